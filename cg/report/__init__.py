"""The report: what ``cg report`` and the notebooks call to rebuild every figure and table.

:mod:`cg.report.notebooks` is the conductor (``cg report``); :mod:`cg.report.timing` writes
where its seconds went (``profile.csv``). Below it, three wings, imported one
way only (notebooks -> page -> findings -> runs):

- :mod:`cg.report.runs`: which runs the report needs, and training them side by side;
- :mod:`cg.report.findings`: the R9 checks, their per-seed scores and their statistics;
- :mod:`cg.report.page`: the figures, the summary tables and ``reports/report.html``.
"""
