"""The report's convergence findings (R9.3) on edges2shoes, decided from numbers (R10) as in
:mod:`cg.report.findings.paired`: whether the model without the discriminator overfits early, and
whether the adversarial one generalises better."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cg.report.findings import stats as S
from cg.report.findings.scores import pixel_errors_of, task_facts
from cg.report.findings.table import row
from cg.report.runs.finished import Run
from cg.train.run_dir import RunDir

HOLDS, FAILS, UNDECIDED = S.HOLDS, S.FAILS, S.UNDECIDED

#: R9.3: "overfits within about 3 epochs" of the report's 15: the validation minimum in the
#: first fifth of training, and the last epoch at least 5% above it.
OVERFIT_RISE = 0.05
EARLY_FRACTION = 0.2


def overfits(noadv: Run) -> dict[str, Any]:
    """R9.3: without the discriminator the model overfits early.

    The best epoch is chosen on one half of the validation images (the even-numbered ones)
    and the rise from it to the last epoch is tested on the other half, so that the epoch
    noise the choice picks up is not counted as overfitting (chosen and tested on the same
    images, last / best would be at least 1 by construction)."""

    s, p = task_facts(noadv)[:2]
    last_epoch = int(noadv.history["epoch"].iloc[-1])
    early = max(1, round(EARLY_FRACTION * last_epoch))
    run_dir = RunDir(noadv.out)
    kept = {e: path for e, path in run_dir.epoch_checkpoints() if e <= last_epoch}

    def both_directions(checkpoint) -> np.ndarray:
        return (
            pixel_errors_of(noadv, s, checkpoint=checkpoint)
            + pixel_errors_of(noadv, p, checkpoint=checkpoint)
        ) / 2

    if len(kept) < 2:
        e = S.Estimate(math.nan, math.nan, math.nan, 0)
        numbers = "no checkpoint per epoch to choose the best epoch from (checkpoint_every=1)"
        conditions = [UNDECIDED]
        facts = {}
    else:
        errors = {epoch: both_directions(path) for epoch, path in sorted(kept.items())}
        chosen = {epoch: float(v[0::2].mean()) for epoch, v in errors.items()}
        best_epoch = min(chosen, key=lambda epoch: (chosen[epoch], epoch))
        last_pe, best_pe = errors[max(errors)][1::2], errors[best_epoch][1::2]
        e = S.estimate([last_pe, best_pe], S.ratio, paired=True)  # last / best, test half
        numbers = (
            f"validation pixel error (choosing half) lowest at epoch {best_epoch} of "
            f"{last_epoch} ({chosen[best_epoch]:.4f}); on the testing half "
            f"{best_pe.mean():.4f} there, {last_pe.mean():.4f} at the end"
        )
        conditions = [HOLDS if best_epoch <= early else FAILS]
        facts = {"best epoch": best_epoch, "last epoch": last_epoch, "early": early}
    return row(
        "R9.3-overfit",
        noadv.dataset,
        "without the discriminator the model overfits within about 3 epochs",
        f"validation pixel error (both directions) at the last epoch over that at the best "
        f"epoch, chosen on the even-numbered validation images and tested per image on the "
        f"odd-numbered ones; holds if the best epoch is in the first {EARLY_FRACTION:.0%} of "
        f"training and the interval is above {1 + OVERFIT_RISE:g}",
        "pixel error ratio last / best epoch",
        e,
        1 + OVERFIT_RISE,
        numbers,
        rule="above",
        conditions=conditions,
        facts=facts,
    )


def adv_generalises_better(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.3: the adversarial model generalises better: a smaller validation - training gap,
    and a validation error below the other model's (a smaller gap from fitting the training
    images worse is not generalising better)."""
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
        "minus without; holds if the interval is below 0 and the adversarial model's "
        "validation pixel error is below the other's too (its per-image difference's "
        "interval below 0)",
        "gap difference",
        e,
        0.0,
        f"gap with adv. {gap_a:.4f}, without adv. {gap_n:.4f}; validation pixel error with "
        f"adv. {val_a.mean():.4f}, without {val_n.mean():.4f} (difference {e_val})",
        rule="below",
        parts=[("below", 0.0, e_val)],
        facts={
            "gap with": gap_a,
            "gap without": gap_n,
            "val with": val_a.mean(),
            "val without": val_n.mean(),
        },  # fmt: skip
    )
