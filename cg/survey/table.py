"""Tables of the human survey (R8): per-rater marks, means, spread and a bootstrap interval.

A responses file is a UTF-8 CSV with the header ``survey,rater,mark,comment`` and one row per
rating: ``survey`` names what was rated (``human2simpson`` = figure 19, ``simpson2human`` =
figure 20 in ``survey/responses.csv``; the folder name for a survey collected with
``cg survey serve``), ``mark`` is a number from 1 to 10, ``comment`` is free text (may be
empty). Comments are kept verbatim, even when they start with ``=``, ``+``, ``-`` or ``@``:
the file is data for ``cg``/pandas, not a spreadsheet; open it in a spreadsheet as text.

For each survey, with marks ``x_1 … x_n``:

* ``mean = Σ x_i / n``
* ``std = sqrt(Σ (x_i - mean)² / (n - 1))`` (sample standard deviation, ddof = 1; NaN for n = 1)
* ``ci_low, ci_high``: the 2.5 % and 97.5 % percentiles of the means of ``resamples``
  resamples of size n drawn with replacement (percentile bootstrap), from
  ``numpy.random.default_rng(seed)`` — the same seed for every survey, so the output is
  identical on every run.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from cg.errors import UserError

COLUMNS = ("survey", "rater", "mark", "comment")
MARK_MIN = 1.0
MARK_MAX = 10.0
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
SUMMARY_COLUMNS = ("survey", "n", "mean", "std", "ci_low", "ci_high")


def parse_responses(text: str, source: str) -> pd.DataFrame:
    """Parse the text of a responses CSV; ``source`` names it in error messages.

    Returns a DataFrame with the columns of :data:`COLUMNS` (``mark`` as float, ``comment``
    an empty string where none was given), in file order.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise UserError(f"{source} is empty; the first line must be {','.join(COLUMNS)}")
        header = [h.strip() for h in header]
        missing = [c for c in COLUMNS if c not in header]
        extra = [h for h in header if h not in COLUMNS]
        if missing or extra or len(set(header)) != len(header):
            what = "; ".join(
                [f"missing column {c!r}" for c in missing]
                + [f"unknown column {h!r}" for h in extra]
                + (["a column appears twice"] if len(set(header)) != len(header) else [])
            )
            raise UserError(f"{source}, line 1: {what}; the header must be {','.join(COLUMNS)}")
        pos = {c: header.index(c) for c in COLUMNS}
        records: list[tuple[str, str, float, str]] = []
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise UserError(
                    f"{source}, line {line}: {len(row)} fields, expected {len(header)} "
                    f"({','.join(header)}); quote fields that contain commas"
                )
            survey, rater = row[pos["survey"]].strip(), row[pos["rater"]].strip()
            if not survey:
                raise UserError(f"{source}, line {line}: the survey name is empty")
            if not rater:
                raise UserError(f"{source}, line {line}: the rater name is empty")
            records.append(
                (survey, rater, _parse_mark(row[pos["mark"]], source, line), row[pos["comment"]])
            )
    except csv.Error as e:
        raise UserError(f"{source}, line {reader.line_num}: malformed CSV ({e})") from None
    df = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    return df.astype({"survey": str, "rater": str, "mark": float, "comment": str})


def _parse_mark(text: str, source: str, line: int) -> float:
    try:
        mark = float(text.strip())
    except ValueError:
        raise UserError(
            f"{source}, line {line}: mark {text!r} is not a number "
            f"(write a number from {MARK_MIN:g} to {MARK_MAX:g}, e.g. 6.75)"
        ) from None
    if not math.isfinite(mark) or not MARK_MIN <= mark <= MARK_MAX:
        raise UserError(
            f"{source}, line {line}: mark {text.strip()!r} is outside {MARK_MIN:g}..{MARK_MAX:g}"
        )
    return mark


def load_responses(path: str | Path) -> pd.DataFrame:
    """Read and validate a responses CSV (see the module docstring); a folder means its
    ``responses.csv``. Problems raise :class:`UserError` naming the file and line."""
    path = Path(path)
    if path.is_dir():
        path = path / "responses.csv"
    if not path.is_file():
        raise UserError(f"responses file {path} does not exist")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    return parse_responses(text, str(path))


def bootstrap_ci(
    marks: np.ndarray | pd.Series,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean (see the module docstring)."""
    x = np.asarray(marks, dtype=float)
    if x.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return (float(low), float(high))


def summary_table(
    df: pd.DataFrame, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> pd.DataFrame:
    """One row per survey (in file order): survey, n, mean, std (ddof=1), ci_low, ci_high."""
    rows = []
    for survey, group in df.groupby("survey", sort=False):
        marks = group["mark"].to_numpy(dtype=float)
        low, high = bootstrap_ci(marks, resamples=resamples, seed=seed)
        std = float(np.std(marks, ddof=1)) if marks.size > 1 else math.nan
        rows.append((survey, int(marks.size), float(marks.mean()), std, low, high))
    return pd.DataFrame.from_records(rows, columns=list(SUMMARY_COLUMNS))


def rater_table(df: pd.DataFrame) -> pd.DataFrame:
    """Marks with raters as rows and surveys as columns, both in order of first appearance.

    A rater who rated one survey several times appears as ``name``, ``name (2)``, … so that no
    mark is hidden or averaged away.
    """
    repeat = df.groupby(["survey", "rater"], sort=False).cumcount() + 1
    label = df["rater"].where(repeat == 1, df["rater"] + " (" + repeat.astype(str) + ")")
    table = pd.DataFrame({"rater": label, "survey": df["survey"], "mark": df["mark"]})
    wide = table.pivot(index="rater", columns="survey", values="mark")
    wide = wide.reindex(index=pd.unique(label), columns=pd.unique(df["survey"]))
    wide.columns.name = None
    return wide


def comments_table(df: pd.DataFrame) -> pd.DataFrame:
    """The non-empty comments: survey, rater, comment (verbatim), in file order."""
    has = df["comment"].str.strip() != ""
    return df.loc[has, ["survey", "rater", "comment"]].reset_index(drop=True)


def _num(x: float) -> str:
    return "-" if pd.isna(x) else f"{x:.2f}"


def format_rater_table(df: pd.DataFrame) -> str:
    """:func:`rater_table` as text, marks with 2 decimals, ``-`` where a rater has no mark."""
    if df.empty:
        return "(no responses)"
    return rater_table(df).reset_index().to_string(index=False, float_format=_num, na_rep="-")


def format_summary_table(
    df: pd.DataFrame, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> str:
    """:func:`summary_table` as text, numbers with 2 decimals."""
    if df.empty:
        return "(no responses)"
    table = summary_table(df, resamples=resamples, seed=seed)
    return table.to_string(index=False, float_format=_num, na_rep="-")


def format_report(
    df: pd.DataFrame,
    source: str,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> str:
    """Everything ``cg survey table`` prints: marks per rater, summary, comments."""
    parts = [
        f"responses: {source}",
        "",
        "marks per rater",
        format_rater_table(df),
        "",
        f"summary (std: sample, ddof=1; 95% CI: percentile bootstrap of the mean, "
        f"{resamples} resamples, seed {seed})",
        format_summary_table(df, resamples=resamples, seed=seed),
    ]
    comments = comments_table(df) if not df.empty else df
    if not comments.empty:
        parts += ["", "comments", comments.to_string(index=False)]
    return "\n".join(parts) + "\n"
