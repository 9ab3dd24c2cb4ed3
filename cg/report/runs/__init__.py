"""The report's runs: which runs the notebooks need, and training them side by side.

- :mod:`~cg.report.runs.profiles`: the parameter profiles (``params/*.yaml``) and data folders
- :mod:`~cg.report.runs.grid`: every run the notebooks need, described once (config and folder)
- :mod:`~cg.report.runs.layout`: how many runs at a time, with how many threads each
- :mod:`~cg.report.runs.worker`: one run trained (or found finished) in a worker
- :mod:`~cg.report.runs.schedule`: the grid's runs on a local process pool or a Dask cluster
- :mod:`~cg.report.runs.finished`: a notebook's finished runs (:class:`Run`), trained if missing
"""
