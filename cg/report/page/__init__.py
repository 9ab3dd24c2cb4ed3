"""The report's page: figures, summary tables and ``reports/report.html``.

- :mod:`~cg.report.page.captions`: every figure's number, file name and caption, written once
- :mod:`~cg.report.page.plots`: curves of ``history.csv`` columns, and saving a figure
- :mod:`~cg.report.page.figures`: the report's figures drawn from finished runs; ``publish``
- :mod:`~cg.report.page.architecture`: figures 1-2, the networks drawn from the real modules
- :mod:`~cg.report.page.tables`: the data, settings and final metrics of a notebook's runs
- :mod:`~cg.report.page.html`: the executed notebooks joined into ``report.html``, and the
  findings joined into ``findings.csv``
"""
