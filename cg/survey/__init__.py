"""The human survey (R8): tables from responses, building a survey's pictures, the rating page.

* :mod:`cg.survey.table` — :func:`load_responses`, :func:`summary_table`, :func:`rater_table`
* :mod:`cg.survey.build` — :func:`build_survey` (``cg survey build``)
* :mod:`cg.survey.server` — :func:`serve` (``cg survey serve``), with :mod:`cg.survey.form`
  (validation), :mod:`cg.survey.store` (crash-safe concurrent appends) and
  :mod:`cg.survey.pages` (the HTML)
"""

from cg.survey.server import serve
from cg.survey.table import (
    comments_table,
    format_rater_table,
    format_report,
    format_summary_table,
    load_responses,
    rater_table,
    summary_table,
)

__all__ = [
    "build_survey",
    "comments_table",
    "format_rater_table",
    "format_report",
    "format_summary_table",
    "load_responses",
    "rater_table",
    "serve",
    "summary_table",
]


def __getattr__(name: str) -> object:
    """``build_survey`` is imported on first use (building needs torch)."""
    if name == "build_survey":
        from cg.survey.build import build_survey  # heavy: torch, not needed for the tables

        return build_survey
    raise AttributeError(f"module 'cg.survey' has no attribute {name!r}")
