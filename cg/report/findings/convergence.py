"""The report's convergence findings (R9.3) on edges2shoes, decided from numbers (R10) as in
:mod:`cg.report.findings.paired`: whether the model without the discriminator overfits early, and
whether the adversarial one generalises better."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cg.report.findings import rules as R
from cg.report.findings import stats as S
from cg.report.findings.scores import pixel_errors_of, task_facts
from cg.report.findings.table import row
from cg.report.runs.finished import Run
from cg.train.run_dir import RunDir


def windows(epochs: int) -> tuple[slice, slice]:
    """The epochs (0-based slices) of R9.3-overfit's two levels: the *early* window, from
    :data:`~cg.report.findings.rules.EARLY_WINDOW`'s start to its end of training (where the
    claim puts the minimum), and the *late* one, the last
    :data:`~cg.report.findings.rules.LATE_FRACTION` of training; each at least one epoch."""
    start, end = R.EARLY_WINDOW
    first = min(epochs - 1, max(0, round(start * epochs) - 1))
    early = slice(first, max(first + 1, round(end * epochs)))
    late = slice(epochs - max(1, round(R.LATE_FRACTION * epochs)), epochs)
    return early, late


@dataclass(frozen=True)
class Overfit:
    """R9.3-overfit's reading of one run's validation curve: ``rise``, the late level over
    the early one (:func:`windows`), and, for the numbers only, the epoch of the lowest error
    (1-based)."""

    rise: float
    early: float
    late: float
    minimum: int


def overfit_statistics(curve: Sequence[float]) -> Overfit:
    """R9.3-overfit from a run's validation error per epoch (epochs 1, 2, ...): the mean over
    the last fifth of training over the mean around the first fifth. Both windows are fixed
    before the curve is seen, so nothing is chosen on the curve: on a level curve the ratio
    is 1 up to noise (a best epoch chosen on the curve, even on other images, would carry the
    model's own epoch-to-epoch noise into the choice and read a level curve as a rise)."""
    c = np.asarray(curve, dtype=np.float64)
    early, late = windows(len(c))
    e, l_ = float(c[early].mean()), float(c[late].mean())
    return Overfit(l_ / e, e, l_, int(np.argmin(c)) + 1)


def epoch_errors(run: Run) -> np.ndarray | None:
    """A run's validation pixel error (both directions, per image) at every epoch, from the
    checkpoint of each (epochs x images); None without a checkpoint of every epoch."""
    s, p = task_facts(run)[:2]
    last_epoch = int(run.history["epoch"].iloc[-1])
    kept = dict(RunDir(run.out).epoch_checkpoints())
    if any(e not in kept for e in range(1, last_epoch + 1)):
        return None
    return np.stack(
        [
            (
                pixel_errors_of(run, s, checkpoint=kept[e])
                + pixel_errors_of(run, p, checkpoint=kept[e])
            )
            / 2
            for e in range(1, last_epoch + 1)
        ]
    )


def overfits(noadv: Run) -> dict[str, Any]:
    """R9.3: without the discriminator the model overfits early: its validation error (both
    directions, every validation image, from the checkpoint of each epoch) is higher over the
    last fifth of training than around the first fifth, where the claim puts its minimum
    (:func:`overfit_statistics`)."""

    last_epoch = int(noadv.history["epoch"].iloc[-1])
    errors = epoch_errors(noadv)
    if errors is None:
        e = S.Estimate(math.nan, math.nan, math.nan, 0)
        numbers = "no checkpoint of every epoch to read the curve from (checkpoint_every=1)"
        return row("R9.3-overfit", noadv.dataset, _CLAIM, _TEST, e, numbers)
    o = overfit_statistics(errors.mean(1))
    early, late = windows(last_epoch)
    e = S.estimate([errors[late].mean(0), errors[early].mean(0)], S.ratio, paired=True)
    return row(
        "R9.3-overfit",
        noadv.dataset,
        _CLAIM,
        _TEST,
        e,
        f"validation pixel error {o.early:.4f} over epochs {early.start + 1}-{early.stop}, "
        f"{o.late:.4f} over epochs {late.start + 1}-{late.stop} of {last_epoch}; lowest at "
        f"epoch {o.minimum}",
        facts={"minimum": o.minimum, "last epoch": last_epoch, "rise": o.rise},
    )


_CLAIM = "without the discriminator the model overfits within about 3 epochs"
_TEST = (
    "validation pixel error (both directions, every validation image) over the last fifth "
    "of training over that from a tenth to three tenths of training (windows fixed in "
    "advance, so that no epoch is chosen on the curve)"
)


def adv_generalises_better(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.3: the adversarial model generalises better, in two parts: a smaller validation -
    training gap, and a validation error below the other model's (a smaller gap from fitting
    the training images worse is not generalising better). Both parts are shown, each with
    its own interval and verdict, and the row says which decided the check."""
    s, p = task_facts(noadv)[:2]

    def both_directions(run: Run, split: str) -> np.ndarray:
        return (pixel_errors_of(run, s, split) + pixel_errors_of(run, p, split)) / 2

    val_a, val_n = both_directions(adv, "val"), both_directions(noadv, "val")
    d_val = val_a - val_n
    d_train = both_directions(adv, "train") - both_directions(noadv, "train")
    e = S.estimate([d_val, d_train], S.mean_difference)  # gap(adv) - gap(noadv)
    e_val = S.estimate([val_a, val_n], S.mean_difference, paired=True)
    gap_a = val_a.mean() - both_directions(adv, "train").mean()
    gap_n = val_n.mean() - both_directions(noadv, "train").mean()
    return row(
        "R9.3-generalise",
        noadv.dataset,
        "the adversarial model generalises better",
        "generalisation gap (validation - training pixel error, both directions) with adv. "
        "minus without; and the validation pixel error with adv. minus without",
        e,
        f"gap with adv. {gap_a:.4f}, without adv. {gap_n:.4f}; validation pixel error with "
        f"adv. {val_a.mean():.4f}, without {val_n.mean():.4f} (difference {e_val})",
        parts=[e_val.value],
        facts={
            "gap with": gap_a,
            "gap without": gap_n,
            "val with": val_a.mean(),
            "val without": val_n.mean(),
        },  # fmt: skip
    )
