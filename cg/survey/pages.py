"""The HTML of the rating page, the results page and error pages.

Templates are package data (``cg/survey/templates/*.html``, :class:`string.Template`). Every
value that reaches a page — survey name, rater names, comments, marks, error messages, which
may all come from users — passes through :func:`html.escape` here; the templates themselves
hold no user data and no scripts (the pages run no JavaScript).
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from string import Template

import pandas as pd

from cg.survey.form import MAX_COMMENT, MAX_NAME
from cg.survey.table import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, SUMMARY_COLUMNS, summary_table


@cache
def _template(name: str) -> Template:
    return Template(resources.files("cg.survey").joinpath("templates", name).read_text("utf-8"))


def _page(title: str, body: str) -> bytes:
    """A whole page; ``title`` is escaped here, ``body`` must already be safe HTML."""
    return _template("page.html").substitute(title=html.escape(title), body=body).encode()


def _fmt(x: float) -> str:
    return "-" if pd.isna(x) else f"{x:.2f}"


def html_table(headers: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    """A ``<table>``, every header and cell escaped; columns in ``numeric`` right-aligned."""

    def cell(i: int, text: str) -> str:
        cls = ' class="num"' if i in numeric else ""
        return f"<td{cls}>{html.escape(text)}</td>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def rate_page(survey: str, token: str) -> bytes:
    """The form: grid, rater name, mark (1-10, step 0.25), comment, and the form token."""
    body = _template("rate.html").substitute(
        survey=html.escape(survey),
        token=html.escape(token),
        max_name=MAX_NAME,
        max_comment=MAX_COMMENT,
    )
    return _page(f"Rate: {survey}", body)


def results_page(survey: str, df: pd.DataFrame, submitted: bool) -> bytes:
    """The summary (the numbers of ``cg survey table``, 2 decimals) and every rating."""
    if df.empty:
        summary = ratings = "<p>No ratings yet.</p>"
    else:
        table = summary_table(df)
        rows = [
            [str(r.survey), str(r.n), *(_fmt(v) for v in (r.mean, r.std, r.ci_low, r.ci_high))]
            for r in table.itertuples()
        ]
        summary = html_table(list(SUMMARY_COLUMNS), rows, {1, 2, 3, 4, 5})
        rows = [[r.rater, f"{r.mark:g}", r.comment] for r in df.itertuples()]
        ratings = html_table(["rater", "mark", "comment"], rows, {1})
    notice = '<p class="notice" id="notice">Thank you, your rating was stored.</p>'
    body = _template("results.html").substitute(
        survey=html.escape(survey),
        notice=notice if submitted else "",
        summary=summary,
        ratings=ratings,
        resamples=BOOTSTRAP_RESAMPLES,
        seed=BOOTSTRAP_SEED,
    )
    return _page(f"Results: {survey}", body)


def error_page(heading: str, message: str) -> bytes:
    body = _template("error.html").substitute(
        heading=html.escape(heading), message=html.escape(message)
    )
    return _page(heading, body)
