"""The findings' rows as a reader sees them (a table) and as a machine reads them (CSV):
``reports/findings.csv`` has one row per check with the columns :data:`COLUMNS`."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cg.report import stats as S

COLUMNS = (
    "id",
    "dataset",
    "claim",
    "test",
    "statistic",
    "value",
    "low",
    "high",
    "line",
    "n",
    "numbers",
    "verdict",
)

#: The ids of the checks of the report's own findings (R9): eleven rows on the three datasets
#: (R9.1, R9.2-equal and R9.2-detail on both paired ones). Other rows (R9.1-seg, R9.5-identity,
#: R9.5-classic) are further checks.
REPORT_CHECKS = frozenset(
    ("R9.1", "R9.2-equal", "R9.2-detail", "R9.3-overfit", "R9.3-generalise")
    + ("R9.4-blur", "R9.4-better", "R9.5")
)


def row(
    id_: str,
    dataset: str,
    claim: str,
    test: str,
    statistic: str,
    e: S.Estimate,
    line: float,
    numbers: str,
    verdict: str,
) -> dict[str, Any]:
    return {
        "id": id_,
        "dataset": dataset,
        "claim": claim,
        "test": test,
        "statistic": statistic,
        "value": e.value,
        "low": e.low,
        "high": e.high,
        "line": line,
        "n": e.n,
        "numbers": numbers,
        "verdict": verdict,
    }


def table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a reader wants them: claim, verdict, the estimate with its interval, the
    numbers behind it and the test."""
    out = []
    for r in rows:
        est = S.Estimate(r["value"], r["low"], r["high"], r["n"])
        out.append(
            {
                "id": r["id"],
                "claim": r["claim"],
                "verdict": r["verdict"],
                "statistic [95% interval]": f"{r['statistic']}: {est}",
                "numbers": r["numbers"],
                "test": r["test"],
                "images": r["n"],
            }
        )
    return pd.DataFrame(out).set_index("id")


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """``rows`` as CSV (:data:`COLUMNS`), atomically."""
    from cg.files import atomic_write_text

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k) for k in COLUMNS})
    path = Path(path)
    atomic_write_text(path, buf.getvalue())
    return path


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def publish(rows: Sequence[dict[str, Any]], dataset: str, results_dir: str | Path) -> Any:
    """Write ``rows`` to ``results_dir/<dataset>.csv`` (``cg report`` joins these into
    ``reports/findings.csv``) and return the table a reader sees."""
    if results_dir:
        write_csv(rows, Path(results_dir) / f"{dataset}.csv")
    return table(rows)
