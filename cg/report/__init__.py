"""The report: what the notebooks call to rebuild every figure and table.

The grid (which runs, their configs and folders; scheduling):

- :mod:`cg.report.profiles`: the parameter profiles (smoke, default, long, gpu, full)
- :mod:`cg.report.grid`: every run the notebooks need, described once (the notebooks and
  ``cg report`` both ask it)
- :mod:`cg.report.layout`, :mod:`cg.report.schedule`, :mod:`cg.report.worker`: the runs
  trained side by side, on this machine or a Dask cluster
- :mod:`cg.report.experiments`: a notebook's finished runs and the tables that describe them

The findings and the page:

- :mod:`cg.report.findings`: the R9 checks
- :mod:`cg.report.plots`, :mod:`cg.report.figures`, :mod:`cg.report.captions`: figures
- :mod:`cg.report.architecture`: figures 1-2 (the networks)
- :mod:`cg.report.notebooks`: papermill runs (``cg report``); :mod:`cg.report.page`:
  ``reports/report.html`` and ``reports/findings.csv``
"""
