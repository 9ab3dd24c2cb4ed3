"""The findings' rows: one check's rows of several seeds made into the row decided over them
(:func:`over_seeds`), a report's rows decided as families (:func:`decide_families`), and the
rows as a reader sees them (a table) and as a machine reads them (``reports/findings.csv``,
one row per check with the columns :data:`COLUMNS`)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cg.errors import UserError
from cg.files import atomic_write_text
from cg.report.findings import rules as R
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
    "p",
    "verdict_raw",
    "rules",
)


def row(
    id_: str,
    dataset: str,
    claim: str,
    test: str,
    e: S.Estimate,
    numbers: str,
    *,
    parts: Sequence[float] = (),
    gate: str | None = None,
    facts: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """One check's row for one seed: ``e`` is its headline statistic (the first part of its
    rule, :data:`cg.report.findings.rules.RULES`) with the interval over this model's images,
    ``parts`` the seed's values of its further parts, ``gate`` its gate's verdict on this
    seed's images (None where the rule has no gate), ``test`` what is measured (the rule's
    lines are added). One seed decides nothing (:func:`over_seeds` decides over the block).
    ``facts`` are the named numbers behind the statistic that
    :mod:`cg.report.findings.reasons` explains a verdict with (kept per seed, not written to
    the CSV)."""
    rule = R.RULES[id_]
    if len(parts) != len(rule.parts) - 1:
        raise ValueError(f"{id_} has {len(rule.parts)} parts, given {1 + len(parts)}")
    return {
        "id": id_,
        "dataset": dataset,
        "claim": claim,
        "test": test,
        "statistic": rule.parts[0].statistic,
        "value": e.value,
        "low": e.low,
        "high": e.high,
        "line": rule.parts[0].line,
        "n": e.n,
        "numbers": numbers,
        "verdict": S.UNDECIDED,
        "seeds": 1,
        "per_seed": _number(e.value),
        "p": math.nan,
        "verdict_raw": S.UNDECIDED,
        "rules": R.VERSION,
        "_values": [[float(e.value)], *[[float(v)] for v in parts]],
        "_estimates": [e],
        "_gates": [gate],
        "_facts": {k: [float(v)] for k, v in (facts or {}).items()},
    }


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


def _gate(gates: Sequence[str | None]) -> str | None:
    """A gate over the seeds: it passes only where it passes on every seed."""
    if all(g is None for g in gates):
        return None
    return S.HOLDS if all(g == S.HOLDS for g in gates) else S.UNDECIDED


def over_seeds(
    rows: Sequence[dict[str, Any]], seeds: Sequence[int], *, expected: int | None = None
) -> dict[str, Any]:
    """One check's rows of ``seeds`` (one each, in seed order, the arms paired by seed) as
    the row decided over them by its rule (:func:`cg.report.findings.rules.decide`): the
    headline statistic's mean over the seeds (a ratio's geometric mean) with its Student t
    interval, ``p`` and ``verdict_raw``. ``expected``: the block's number of seeds (default:
    these), below which the check is undecided. ``verdict`` is ``verdict_raw`` until the
    family is decided (:func:`decide_families`)."""
    first = dict(rows[0])
    rule = R.RULES[first["id"]]
    values = [[r["_values"][i][0] for r in rows] for i in range(len(rule.parts))]
    gates = [r["_gates"][0] for r in rows]
    d = R.decide(rule, values, gate=_gate(gates), seeds_expected=expected or len(rows))
    head = d.tests[0]
    per_image = "; ".join(f"seed {s}: {r['_estimates'][0]}" for s, r in zip(seeds, rows))
    first.update(
        seeds=len(rows),
        per_seed=";".join(_number(v) for v in values[0]),
        p=d.p,
        verdict_raw=d.verdict_raw,
        verdict=d.verdict_raw,
        _values=values,
        _estimates=[r["_estimates"][0] for r in rows],
        _gates=gates,
        _facts={k: [x for r in rows for x in r["_facts"][k]] for k in first["_facts"]},
        test=f"{first['test']}; {rule.describe()}; {_how(len(rows))}",
        numbers=f"{_parts(rule, d)}; per seed (interval over its images): {per_image} "
        f"(seed {seeds[0]}: {first['numbers']})",
    )
    if len(rows) > 1:
        part = rule.parts[0]
        first.update(
            value=part.shown(head.mean),
            low=part.shown(head.low),
            high=part.shown(head.high),
            n=min(r["n"] for r in rows),
        )
    return first


def _how(seeds: int) -> str:
    return (
        f"decided over {seeds} seeds: the per-seed values' mean (a ratio's geometric mean) and "
        "95% Student t interval, one-sided p per side at 2.5%, Holm's correction over the "
        "family"
    )


def _parts(rule: R.Rule, d: R.Decision) -> str:
    """Each part's reading over the seeds, the check's p, which part decided it, and any
    flag on the t test's assumption, as a reader's sentence."""
    out = []
    for part, t in zip(rule.parts, d.tests):
        est = S.Estimate(part.shown(t.mean), part.shown(t.low), part.shown(t.high), t.n)
        text = f"{part.statistic} {est} (line {part.line:g}): {t.verdict} alone"
        text += f", p {_p(t.p_for)} for, {_p(t.p_against)} against"
        if not t.normal:
            text += (
                f"; NOT NORMAL across seeds (Shapiro-Wilk p {_p(t.shapiro)}): exact "
                f"sign-flip p {_p(t.sign_flip)}"
            )
        out.append(text)
    if d.reason:
        tail = f"undecided: {d.reason}"
    else:
        tail = f"p {_p(d.p)}, {d.verdict_raw} (decided by {rule.parts[d.decided_by].statistic})"
    return "; ".join(out) + f"; check: {tail}"


def _p(x: float) -> str:
    return "nan" if not np.isfinite(x) else (f"{x:.3f}" if x >= 0.001 else f"{x:.1e}")


def decide_families(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (every check of a report, from CSV or from the checks) with ``verdict`` the
    family-wise verdict: the report's checks one family, the further checks another, each
    decided with Holm's correction (:func:`cg.report.findings.rules.family_verdicts`)."""
    out = [dict(r) for r in rows]
    for family in (R.REPORT, R.FURTHER):
        members = [r for r in out if _family(r["id"]) == family]
        p = [float(r["p"]) if r.get("p") not in (None, "") else math.nan for r in members]
        for r, v in zip(members, R.family_verdicts(p, [r["verdict_raw"] for r in members])):
            r["verdict"] = v
    return out


def _family(id_: str) -> str:
    rule = R.RULES.get(id_)
    return rule.family if rule is not None else R.FURTHER


def table(rows: Sequence[dict[str, Any]], *, family: bool = False) -> pd.DataFrame:
    """The rows as a reader wants them: claim, verdict, p, the headline statistic with its
    interval, the numbers behind it (every part's reading) and the test. ``family``: the rows'
    ``verdict`` is the family-wise one (:func:`decide_families`) and is shown beside the
    check's own; otherwise only the check's own is known yet."""
    out = []
    for r in rows:
        est = S.Estimate(float(r["value"]), float(r["low"]), float(r["high"]), int(r["n"]))
        shown = {"id": r["id"], "claim": r["claim"]}
        if family:
            shown["verdict (family-wise)"] = r["verdict"]
        shown["verdict (this check alone)"] = r["verdict_raw"]
        shown["p"] = _p(float(r["p"]) if r.get("p") not in (None, "") else math.nan)
        shown["statistic [95% interval]"] = f"{r['statistic']}: {est}"
        shown.update(numbers=r["numbers"], test=r["test"], images=r["n"], seeds=r["seeds"])
        out.append(shown)
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


def profile_findings(
    profile: str, ids: Sequence[str], dataset: str, *, root: str | Path | None = None
) -> pd.DataFrame | str:
    """Another profile's verdicts of the checks ``ids`` on ``dataset``, as committed beside the
    profile (``params/<profile>-findings.csv``: the ``findings.csv`` of a full run of that
    profile, copied there with the profile's time and machine in its comment), as the table a
    reader sees; a line saying how to get them when there is no such file, or when its rules'
    version (column ``rules``) is not the current one. ``root``: the repository root."""
    base = Path(root) if root is not None else Path(__file__).resolve().parents[3]
    path = base / "params" / f"{profile}-findings.csv"
    if not path.is_file():
        return (
            f"No verdicts of the {profile} profile are committed (params/{profile}-findings.csv): "
            f"run `cg report --profile {profile} --out reports/{profile}`."
        )
    rows = [r for r in read_csv(path) if r["id"] in ids and r["dataset"] == dataset]
    versions = sorted({r.get("rules") or "1" for r in rows})
    if versions != [R.VERSION]:
        return (
            f"The {profile} profile's committed verdicts (params/{profile}-findings.csv) were "
            f"decided under rules version {', '.join(versions)}, not the current {R.VERSION}: "
            f"run `cg report --profile {profile} --out reports/{profile}` to decide them again."
        )
    return table(rows, family=True)
