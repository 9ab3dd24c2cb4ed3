"""Training: one step per objective, the run's live state, the loop, the run folder.

- :mod:`cg.train.steps`: one optimisation step per objective (CycleGAN, pix2pix), with the
  losses of :mod:`cg.losses`; the image pool
- :mod:`cg.train.state`: models, optimisers, pools and RNG states of a run, built from a config
- :mod:`cg.train.loop`: :func:`~cg.train.loop.train`, every mode, with exact resume
- :mod:`cg.train.run_dir`: the run folder (paths, lock, history, checkpoints)
- :mod:`cg.train.distributed`, :mod:`cg.train.sync_batchnorm`: data-parallel training
"""
