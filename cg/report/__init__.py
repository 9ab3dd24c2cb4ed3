"""The report: what the notebooks call to rebuild every figure and table.

- :mod:`cg.report.profiles`: the parameter profiles (smoke, default, full)
- :mod:`cg.report.experiments`: datasets and runs for a notebook, reusing finished runs
- :mod:`cg.report.findings`: the R9 checks
- :mod:`cg.report.plots`, :mod:`cg.report.figures`, :mod:`cg.report.captions`: figures
- :mod:`cg.report.architecture`: figures 1-2 (the networks)
- :mod:`cg.report.notebooks`: papermill runs and ``reports/report.html`` (``cg report``)
"""
