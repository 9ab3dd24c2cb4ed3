"""Why a check does not show here: for every finding that does not hold, its mechanism's
measurement, in a sentence.

Each sentence is made from numbers, never written for a verdict: the check's own statistic over
the seeds (``per_seed``), the named numbers behind it that the check keeps per seed (a row's
``_facts``, :func:`cg.report.findings.table.row`), and the dataset's measurements without
training (:func:`cg.report.findings.data_measures.measure`). What each mechanism needs is the
"What the data holds" in ``docs/findings.md``; a finding that holds has no reason to give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cg.catalog import DATASETS
from cg.report.findings import stats as S
from cg.report.findings.rules import BLURRY, EARLY_WINDOW, OVERFIT_RISE

VARIANCE_LEFT = "variance left given the other domain"
FINE = "fine (1-2 px)"
APPEARANCE = "appearance diversity"


def _values(facts: dict[str, list[float]], key: str) -> np.ndarray:
    return np.asarray(facts.get(key, []), dtype=np.float64)


def _mean(facts: dict[str, list[float]], key: str, fmt: str = ".4f") -> str:
    """The mean over the seeds, and its range when there are several."""
    v = _values(facts, key)
    if v.size == 0 or not np.all(np.isfinite(v)):
        return "n/a"
    if v.size == 1 or np.ptp(v) == 0:
        return format(float(v.mean()), fmt)
    return f"{v.mean():{fmt}} ({v.min():{fmt}} to {v.max():{fmt}} over {v.size} seeds)"


def _domain(dataset: str, direction: str) -> tuple[int, str]:
    """The row of ``direction``'s target domain in the measurements (A, B in order) and the
    target's name."""
    names = DATASETS[dataset].domains if dataset in DATASETS else ("A", "B")
    i = 1 if direction == "ab" else 0
    return i, names[i]


def _measured(measures: pd.DataFrame | None, row: int, column: str) -> float | None:
    if measures is None or column not in measures.columns or row >= len(measures):
        return None
    value = float(measures.iloc[row][column])
    return value if np.isfinite(value) else None


def _left(row: dict[str, Any], task: str, measures: pd.DataFrame | None) -> str:
    """What the input leaves open of the target of the row's dataset's ``task`` (``photo`` or
    ``structure``, :class:`cg.catalog.Dataset`), as a clause (empty without the measurement
    or for a dataset the table does not know)."""
    d = DATASETS.get(row["dataset"])
    if d is None:
        return ""
    dataset, direction = row["dataset"], getattr(d, task)
    i, target = _domain(dataset, direction)
    source = _domain(dataset, "ab" if direction == "ba" else "ba")[1]
    v = _measured(measures, i, VARIANCE_LEFT)
    if v is None:
        return ""
    return f"Given the {source}, {v:.0%} of the {target}'s variance is left open (data measurement)"


def _condition_failed(row: dict[str, Any]) -> bool:
    """Whether the check's gate (its statistic's soundness) failed on a seed."""
    return any(g is not None and g != S.HOLDS for g in row.get("_gates", []))


def _structure(row: dict[str, Any], f: dict, m: pd.DataFrame | None) -> str:
    left = _left(row, "structure", m)
    return (
        f"Without adv. {_mean(f, 'without')}, with adv. {_mean(f, 'with')}. "
        + (f"{left}: " if left else "")
        + "a discriminator can only pull the outputs away from the pixel-optimal answer where "
        "the input leaves the target open."
    )


def _equal(row: dict[str, Any], f: dict, m: pd.DataFrame | None) -> str:
    left = _left(row, "photo", m)
    return (
        f"The adversarial model's photo pixel error is {_mean(f, 'with')} against "
        f"{_mean(f, 'without')} without it ({row['value']:.2f} times it). "
        + (f"{left}: " if left else "")
        + "a pixel loss predicts the mean of what is left open, while a model that draws a "
        "plausible value instead pays up to twice the squared error there, so the two are "
        "equally bad only where little is left open."
    )


def _detail(row: dict[str, Any], f: dict, m: pd.DataFrame | None) -> str:
    if _condition_failed(row):
        return (
            "Its statistic does not read blur as blur on these real targets (blur of 0.5, 1 "
            "and 2 px must each read less invented detail; the readings are in the numbers): "
            f"the targets hold only {_mean(f, 'targets')} of detail where the input is flat, so "
            "blurred outlines spill more gradient there than a blur takes away, and the "
            "statistic cannot tell invented detail from blur on this data."
        )
    left = _left(row, "photo", m)
    return (
        f"Invented detail ratio with adv. {_mean(f, 'with', '.3f')}, without "
        f"{_mean(f, 'without', '.3f')} (1 = the real targets' {_mean(f, 'targets')} where the "
        "input is flat)." + (f" {left}." if left else "")
    )


def _overfit(row: dict[str, Any], f: dict, m: pd.DataFrame | None) -> str:
    if not f.get("minimum"):
        return "No checkpoint of every epoch to read the validation curve from."
    minimum, last = _values(f, "minimum"), _values(f, "last epoch")
    late = int(np.sum(minimum > EARLY_WINDOW[1] * last))
    if np.mean(_values(f, "rise")) <= OVERFIT_RISE:
        shape = (
            f"by the end the error is {_mean(f, 'rise', '.3g')} times its level around the "
            "first fifth: it levels off or still falls rather than rising."
        )
    else:
        shape = (
            f"by the end the error is {_mean(f, 'rise', '.3g')} times its level around the "
            "first fifth, a rise the seeds do not put clearly above it."
        )
    return (
        f"The validation error is lowest at epoch {', '.join(str(int(b)) for b in minimum)} "
        f"of {int(last.max())} (per seed), after {EARLY_WINDOW[1]:.0%} of training on {late} "
        f"of {minimum.size} seeds; {shape} The report's regime, about 9,000 steps of 50,000 "
        "images, is far beyond these runs (``python -m cg.report.findings.regime`` measures "
        "where this model's minimum comes)."
    )


def _generalise(row: dict[str, Any], f: dict, m: pd.DataFrame | None) -> str:
    gaps = f"The gap with adv. is {_mean(f, 'gap with')}, without {_mean(f, 'gap without')}"
    worse = _values(f, "val with").mean() >= _values(f, "val without").mean()
    if worse:
        return (
            f"{gaps}; but the adversarial model's validation error is {_mean(f, 'val with')} "
            f"against {_mean(f, 'val without')}: a smaller gap from fitting the training "
            "images worse, not from generalising better."
        )
    return f"{gaps}: the adversarial model's gap is not reliably smaller."


def _blur(row: dict[str, Any], f: dict, m: pd.DataFrame | None) -> str:
    if _condition_failed(row):
        return (
            "Edge sharpness does not read blur as blur on these real images (the readings are "
            "in the numbers), so it cannot decide here."
        )
    sh, hs = _values(f, "Simpson -> human").mean(), _values(f, "human -> Simpson").mean()
    ratios = (
        f"The Simpson -> human outputs' edges are {_mean(f, 'Simpson -> human', '.2f')} as "
        f"sharp as real faces', the human -> Simpson outputs' "
        f"{_mean(f, 'human -> Simpson', '.2f')} as sharp as real Simpsons'."
    )
    if sh >= BLURRY:
        out = (
            f"{ratios} Not below {BLURRY:g}: the human faces do not come out blurry by edge "
            "sharpness, which blotches and noise do not read as blurrier (the degradation "
            "table, ``python -m cg.report.findings.degradations``); blotches laid over a blur "
            "can hide one from it, which the numbers flag where the mean gradient reads the "
            "faces as more detailed than real ones."
        )
    elif hs <= sh:
        out = (
            f"{ratios} Human -> Simpson is at least as blurry as Simpson -> human, so the "
            "contrast the claim draws between the directions does not show: the blur here is "
            "the models', not the faces'."
        )
    else:
        out = f"{ratios} The seeds do not put the difference clearly on either side."
    fh, fs = _measured(m, 0, FINE), _measured(m, 1, FINE)
    dh, ds = _measured(m, 0, APPEARANCE), _measured(m, 1, APPEARANCE)
    if fh is not None and fs is not None and dh is not None and ds is not None:
        out += (
            f" The report names the faces' richer texture and variety as the blur's cause; here "
            f"their fine-band texture energy is {fh:.2f} against the Simpsons' {fs:.2f} (whose "
            f"black outlines put theirs there), their appearance diversity {dh:.3f} against "
            f"{ds:.3f} (data measurement)."
        )
    return out


def _kid(row: dict[str, Any], f: dict, m: pd.DataFrame | None) -> str:
    return (
        f"KID of human -> Simpson {_mean(f, 'human -> Simpson')}, of Simpson -> human "
        f"{_mean(f, 'Simpson -> human')}, each against its target domain's real images; "
        f"copying the input scores {_mean(f, 'copy')}, the yardstick both are divided by."
    )


def _cycle(row: dict[str, Any], f: dict, m: pd.DataFrame | None) -> str:
    return (
        f"The cycle-only model's pixel error is {_mean(f, 'cycle-only')} against "
        f"{_mean(f, 'identity loss')} with the identity loss, where the claim needs "
        f"{row['line']:g} times: the cycle loss alone learns part of the translation here."
    )


def _identity(row: dict[str, Any], f: dict, m: pd.DataFrame | None) -> str:
    return (
        f"|G(x) - x| went from {_mean(f, 'untrained')} to {_mean(f, 'final')} over training, "
        f"against the data's |A - B| of {_mean(f, 'data')}, where a collapse needs less than "
        f"{row['line']:g} of it: the generators change their input instead of copying it."
    )


Explain = Callable[[dict[str, Any], dict, "pd.DataFrame | None"], str]
#: The mechanism's sentence of each check.
EXPLAIN: dict[str, Explain] = {
    "R9.1": _structure,
    "R9.1-seg": _structure,
    "R9.2-equal": _equal,
    "R9.2-detail": _detail,
    "R9.3-overfit": _overfit,
    "R9.3-generalise": _generalise,
    "R9.4-blur": _blur,
    "R9.4-better": _kid,
    "R9.5": _cycle,
    "R9.5-identity": _identity,
    "R9.5-classic": _identity,
}


def why(row: dict[str, Any], measures: pd.DataFrame | None = None) -> str:
    """Why the check of ``row`` does not hold here ("" when it holds): its statistic over the
    seeds, then its mechanism's measurement (:data:`EXPLAIN`)."""
    if row["verdict"] == S.HOLDS:
        return ""
    est = S.Estimate(row["value"], row["low"], row["high"], row["n"])
    per_seed = [float(v) for v in str(row.get("per_seed", "")).split(";") if v]
    spread = f"; per seed {min(per_seed):.4g} to {max(per_seed):.4g}" if len(per_seed) > 1 else ""
    out = f"{row['statistic']} {est}, line {row['line']:g}{spread}."
    explain = EXPLAIN.get(row["id"])
    if explain is not None:
        out += " " + explain(row, row.get("_facts", {}), measures)
    return out


def table(rows: Sequence[dict[str, Any]], measures: pd.DataFrame | None = None) -> pd.DataFrame:
    """The checks that do not hold, each with why (:func:`why`); a table a reader sees on the
    page, beside the verdicts."""
    out = [
        {"id": r["id"], "verdict": r["verdict"], "why it does not show here": why(r, measures)}
        for r in rows
        if r["verdict"] != S.HOLDS
    ]
    columns = ["id", "verdict", "why it does not show here"]
    return pd.DataFrame(out, columns=columns).set_index("id")
