"""FID and KID (R5), offline.

- :mod:`cg.eval.fid.weights`: where the Inception weights come from (``cg weights``)
- :mod:`cg.eval.fid.inception`: the Inception network, its resize, image folders -> features
- :mod:`cg.eval.fid.score`: Frechet distance, KID, ``cg fid``, cached real statistics
- :mod:`cg.eval.fid.columns`: the ``fid_*_val`` history columns (``--fid-every``)
"""
