"""The report's findings (R9): each claim's checks, decided from numbers over seeds (R10).

- :mod:`~cg.report.findings.paired`: the checks of Cityscapes and edges2shoes (``checks``)
- :mod:`~cg.report.findings.unpaired`: the checks of face2simpson (``checks``)
- :mod:`~cg.report.findings.convergence`: R9.3, overfitting and generalisation on edges2shoes
- :mod:`~cg.report.findings.rules`: every check's statistic, line and regions, written once
- :mod:`~cg.report.findings.table`: a check's rows decided over seeds and as families; the CSV
- :mod:`~cg.report.findings.stats`: intervals over images, t tests over seeds, Holm
- :mod:`~cg.report.findings.calibration`: R9.3-overfit held to simulated validation curves
- :mod:`~cg.report.findings.scores`: per-image values of a finished run's outputs
- :mod:`~cg.report.findings.soundness`: whether a statistic reads blur as blur on its targets
- :mod:`~cg.report.findings.kid`: KID with its interval, and the Inception features it uses
- :mod:`~cg.report.findings.degradations`: every statistic read on known degradations
- :mod:`~cg.report.findings.data_measures`: what the data holds for each finding's mechanism
- :mod:`~cg.report.findings.reasons`: why a check that does not hold does not show
- :mod:`~cg.report.findings.regime`: where the edges2shoes run's validation error is lowest
"""
