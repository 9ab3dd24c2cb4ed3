"""``cg bench``: speed measured against a baseline, in one run.

- :mod:`cg.bench.measure`: timers, FLOP counts, peak memory, machine ceilings
- :mod:`cg.bench.run`: the cases and variants, training-step timing and profiles
- :mod:`cg.bench.data`: the data pipeline and ``cg translate``
- :mod:`cg.bench.table`: the result as a table
"""
