"""The findings' rows as a reader sees them (a table) and as a machine reads them (CSV):
``reports/findings.csv`` has one row per check with the columns :data:`COLUMNS`; and one
check's rows of several seeds made into the row decided over the seeds (:func:`over_seeds`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cg.errors import UserError
from cg.files import atomic_write_text
from cg.report.findings import stats as S
from cg.report.runs.finished import Run

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
    "seeds",
    "per_seed",
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
    *,
    rule: str,
    parts: Sequence[tuple[str, float, S.Estimate]] = (),
    conditions: Sequence[str] = (),
    facts: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """One check's row for one seed, and its verdict: ``rule`` (``below``, ``above`` or
    ``within``, :data:`cg.report.findings.stats.RULES`) applied to ``e`` (the interval over the
    images) and ``line``; any further ``parts`` ``(rule, line, estimate)`` that must hold too;
    and ``conditions``, yes-or-no parts as verdicts. :func:`over_seeds` decides several seeds'
    rows by the same rule, parts and conditions (:func:`decide`). ``facts`` are the named
    numbers behind the statistic that :mod:`cg.report.findings.reasons` explains a verdict with
    (kept per seed, not written to the CSV)."""
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
        "verdict": decide(rule, e, line, parts, conditions),
        "seeds": 1,
        "per_seed": _number(e.value),
        "_rule": rule,
        "_parts": [(r, ln, p.value) for r, ln, p in parts],
        "_conditions": list(conditions),
        "_facts": {k: [float(v)] for k, v in (facts or {}).items()},
    }


def decide(
    rule: str,
    e: S.Estimate,
    line: float,
    parts: Sequence[tuple[str, float, S.Estimate]],
    conditions: Sequence[str],
) -> str:
    """A check's verdict: its rule on ``e``, every further part's rule on its estimate, and
    every condition, all of which must hold (:func:`cg.report.findings.stats.both`)."""
    verdicts = [S.RULES[rule](e, line)]
    verdicts += [S.RULES[r](p, ln) for r, ln, p in parts]
    return S.both(*verdicts, *conditions)


def _number(x: float) -> str:
    return repr(float(x))


def seed_block(*arms: Run | Sequence[Run] | None) -> tuple[list[int], list[list[Run | None]]]:
    """The seeds of some arms' runs (each a run, or one run per seed in seed order) and the
    runs of each seed, one per arm; a UserError when the arms' seeds differ."""
    lists = [[None] if a is None else (list(a) if isinstance(a, Sequence) else [a]) for a in arms]
    given = [runs for runs in lists if runs != [None]]
    seeds = [r.config.seed for r in given[0]]
    for runs in given[1:]:
        if [r.config.seed for r in runs] != seeds:
            raise UserError(
                f"the runs compared are of other seeds: {seeds} and "
                f"{[r.config.seed for r in runs]}; each arm needs one run per seed, in order"
            )
    per_seed = [[runs[i] if runs != [None] else None for runs in lists] for i in range(len(seeds))]
    return seeds, per_seed


def over_seeds(rows: Sequence[dict[str, Any]], seeds: Sequence[int]) -> dict[str, Any]:
    """One check's rows of ``seeds`` (one each, in seed order, the arms paired by seed) as
    the row decided over them: the mean of the per-seed statistics with its Student t
    interval over the seeds (:func:`cg.report.findings.stats.over_seeds`), the check's rule applied
    to
    that interval, every further part likewise, and its conditions by consensus. One seed:
    its row as it is (the interval over its images)."""
    first = dict(rows[0])
    if len(rows) == 1:
        return first
    e = S.over_seeds([r["value"] for r in rows])
    parts = [
        (rule, line, S.over_seeds([r["_parts"][i][2] for r in rows]))
        for i, (rule, line, _) in enumerate(first["_parts"])
    ]
    conditions = [
        S.consensus([r["_conditions"][i] for r in rows]) for i in range(len(first["_conditions"]))
    ]
    per_seed = "; ".join(f"seed {s}: {S.Estimate(r['value'], r['low'], r['high'], r['n'])}"
                         f" {r['verdict']}" for s, r in zip(seeds, rows))  # fmt: skip
    first.update(
        value=e.value,
        low=e.low,
        high=e.high,
        n=min(r["n"] for r in rows),
        verdict=decide(first["_rule"], e, first["line"], parts, conditions),
        seeds=len(rows),
        per_seed=";".join(_number(r["value"]) for r in rows),
        _facts={k: [x for r in rows for x in r["_facts"][k]] for k in first["_facts"]},
        test=first["test"] + f"; decided over {len(rows)} seeds: the mean of the per-seed "
        "statistics and its 95% Student t interval over the seeds",
        numbers=f"{per_seed} (seed {seeds[0]}: {first['numbers']})",
    )
    return first


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
                "seeds": r.get("seeds", 1),
            }
        )
    return pd.DataFrame(out).set_index("id")


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """``rows`` as CSV (:data:`COLUMNS`), atomically."""

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


def profile_findings(profile: str, ids: Sequence[str], dataset: str) -> pd.DataFrame | str:
    """Another profile's verdicts of the checks ``ids`` on ``dataset``, as committed beside the
    profile (``params/<profile>-findings.csv``: the ``findings.csv`` of a full run of that
    profile, copied there with the profile's time and machine in its comment), as the table a
    reader sees; a line saying how to get them when there is no such file."""
    path = Path(__file__).resolve().parents[3] / "params" / f"{profile}-findings.csv"
    if not path.is_file():
        return (
            f"No verdicts of the {profile} profile are committed (params/{profile}-findings.csv): "
            f"run `cg report --profile {profile} --out reports/{profile}`."
        )
    rows = [r for r in read_csv(path) if r["id"] in ids and r["dataset"] == dataset]
    for r in rows:
        for key in ("value", "low", "high"):
            r[key] = float(r[key])
        r["n"], r["seeds"] = int(r["n"]), int(r["seeds"])
    return table(rows)
