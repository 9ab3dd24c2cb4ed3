"""FID and KID (R5), offline.

- :mod:`cg.eval.fid.weights`: where the Inception weights come from (``cg weights``)
- :mod:`cg.eval.fid.inception`: the Inception network, the protocols' resizes, folders -> features
- :mod:`cg.eval.fid.inference`: that network rebuilt for inference on the CPU (the report's KID)
- :mod:`cg.eval.fid.score`: Frechet distance, KID, ``cg fid``
- :mod:`cg.eval.fid.columns`: FID during training: the ``fid_*_val`` history columns
  (``--fid-every``), with the real statistics computed once and cached
"""
