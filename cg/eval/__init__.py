"""Evaluation: the report's metrics (R5) as functions of models and batches.

- :mod:`cg.eval.metrics`: pixel error, discriminator feedback, identity distance
- :mod:`cg.eval.samples`: the ``[output | source]`` sample grids of a run
- :mod:`cg.eval.fid`: FID and KID (Inception network, weights, the history columns)
"""
