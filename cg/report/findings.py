"""The report's findings (R9), decided from numbers (R10).

Each check turns one claim into a statistic of per-image values (the final models applied to
the validation images, up to :data:`MAX_IMAGES`), a 95% bootstrap interval over those images
(:mod:`cg.report.stats`) and a verdict: ``holds``, ``does not hold`` or ``undecided``. The rules
are fixed here, before any run; no threshold is chosen after seeing a result.

Image statistics, in [0, 1] pixel units:

- pixel error of an image: the mean squared error against its target (R5);
- detail ``D(x) = mean(|x[i, j+1] - x[i, j]|) + mean(|x[i+1, j] - x[i, j]|)`` (mean gradient
  magnitude: blurry images have little); the *detail ratio* of a generated image is its detail
  over the mean detail of the real images of its target domain (1 = as much fine structure as
  real images, below 1 blurrier);
- identity distance ``mean |G(x) - x|``, against the data's own ``mean |A - B|`` (what a
  generator that translates must change);
- invented detail: ``D`` over the neighbouring pixel pairs where the *input* is flat (its
  3x3 neighbourhood within :data:`cg.report.scores.FLAT_RANGE`: inside a segment, away from
  every edge line), over the same of the real targets: the structure a model must invent,
  without the boundaries the input dictates;
- KID (Binkowski et al. 2018) of each direction's outputs against the real images of its
  target domain: one yardstick for both directions of an unpaired run;
- segmentation scores of generated label maps (:mod:`cg.eval.segmentation`).

Every check returns one row (:data:`COLUMNS`); :func:`table` shows rows for a reader and
:func:`write_csv` writes them for a machine (``reports/findings.csv``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from cg.datasets import DATASETS
from cg.report import stats as S
from cg.report.findings_table import (  # noqa: F401 - the notebooks call findings.publish
    COLUMNS,
    publish,
    read_csv,
    table,
    write_csv,
)
from cg.report.scores import (
    data_distance,
    detail_ratios,
    identity_distances,
    invented_detail_ratios,
    outputs,
    pixel_errors_of,
)

if TYPE_CHECKING:
    from cg.report.experiments import Run

HOLDS, FAILS, UNDECIDED = S.HOLDS, S.FAILS, S.UNDECIDED

#: R9.2: "about equally bad": the relative pixel-error difference within +-15%.
EQUAL_TOLERANCE = 0.15
#: R9.5: "does not learn the translation": pixel error at least 1.5x the identity-loss model's.
NOT_LEARNED = 1.5
#: R9.5: "collapses to the identity": |G(x) - x| below half of the data's |A - B|.
COLLAPSE_FRACTION = 0.5
#: R9.3: "overfits within about 3 epochs" of the report's 15: the validation minimum in the
#: first fifth of training, and the last epoch at least 5% above it.
OVERFIT_RISE = 0.05
EARLY_FRACTION = 0.2


def _row(
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


def _facts(run: Run) -> tuple[str, str, str, str]:
    """(structure direction, photo direction, structure task, photo task) of a run's data."""
    facts = DATASETS.get(run.dataset)
    if facts is None:
        return "ab", "ba", "A -> B", "B -> A"
    return facts.structure, facts.photo, facts.structure_task, facts.photo_task


# --- the checks ----------------------------------------------------------------------------


def structure_better_without_adv(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.1: segmentation / edge extraction learns better without the adversarial loss."""
    s, _, task, _ = _facts(noadv)
    a, b = pixel_errors_of(noadv, s), pixel_errors_of(adv, s)
    e = S.estimate([a, b], S.mean_difference, paired=True)
    return _row(
        "R9.1",
        noadv.dataset,
        f"{task} learns better without the adversarial loss",
        f"validation pixel error of {task} ({s}) without adv. minus with adv., per image; "
        "holds if the interval is below 0",
        "pixel error difference",
        e,
        0.0,
        f"pixel error without adv. {a.mean():.4f}, with adv. {b.mean():.4f}",
        S.below(e, 0.0),
    )


def segmentation_better_without_adv(noadv: Run, adv: Run) -> dict[str, Any] | None:
    """R9.1 scored as the CycleGAN paper scores photo -> labels: class IoU per image."""
    from cg.eval.segmentation import per_image_scores

    facts = DATASETS.get(noadv.dataset)
    if facts is None or facts.palette is None:
        return None
    palette = torch.tensor(facts.palette)
    scored = {}
    for run in (noadv, adv):
        fake, _, target = outputs(run, facts.structure)
        scored[run.name] = per_image_scores(fake, target, palette)
    iou = [np.array([s["class_iou"] for s in scored[r.name]]) for r in (noadv, adv)]
    acc = [np.mean([s["pixel_acc"] for s in scored[r.name]]) for r in (noadv, adv)]
    e = S.estimate(iou, S.mean_difference, paired=True)
    return _row(
        "R9.1-seg",
        noadv.dataset,
        "segmentation learns better without the adversarial loss (segmentation scores)",
        "class IoU of the decoded label maps (nearest palette colour) without adv. minus with "
        "adv., per image; holds if the interval is above 0",
        "class IoU difference",
        e,
        0.0,
        f"class IoU without adv. {iou[0].mean():.3f}, with adv. {iou[1].mean():.3f}; pixel "
        f"accuracy {acc[0]:.3f} vs {acc[1]:.3f}",
        S.above(e, 0.0),
    )


def photo_equally_bad(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.2: generating the photo is about equally bad in pixel error either way."""
    _, p, _, task = _facts(noadv)
    a, b = pixel_errors_of(noadv, p), pixel_errors_of(adv, p)
    e = S.estimate([b, a], S.relative_difference, paired=True)  # (adv - noadv) / adv
    return _row(
        "R9.2-equal",
        noadv.dataset,
        f"{task}: about equally bad in pixel error either way",
        f"relative difference of the validation pixel errors (with - without adv.) / with "
        f"adv.; holds if the interval lies within +-{EQUAL_TOLERANCE:.0%}, does not hold if "
        "it lies wholly outside",
        "relative pixel error difference",
        e,
        EQUAL_TOLERANCE,
        f"pixel error without adv. {a.mean():.4f}, with adv. {b.mean():.4f}",
        S.within(e, EQUAL_TOLERANCE),
    )


def adv_invents_detail(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.2: only the adversarial model invents detail (the pixel-loss model blurs).

    Invented detail is measured where the input is flat (inside a segment, away from every
    edge line): the detail there is what the input does not give and a model must invent
    (windows, foliage, the texture of a shoe). Measured over all pixels, the detail would
    also count the boundaries the input dictates, which a pixel-loss model copies sharply."""
    _, p, _, task = _facts(noadv)
    a, b = invented_detail_ratios(noadv, p), invented_detail_ratios(adv, p)
    keep = np.isfinite(a) & np.isfinite(b)  # images whose input has flat pixels
    a, b = a[keep], b[keep]
    e = S.estimate([b, a], S.mean_difference, paired=True)
    return _row(
        "R9.2-detail",
        noadv.dataset,
        f"{task}: only the adversarial model invents detail",
        "invented detail ratio (detail of each output where its input is flat / that of the "
        "real targets there) with adv. minus without, per image; holds if the interval is "
        "above 0",
        "invented detail ratio difference",
        e,
        0.0,
        f"invented detail ratio with adv. {b.mean():.3f}, without adv. {a.mean():.3f} (1 = as "
        "much structure where the input is flat as real images have)",
        S.above(e, 0.0),
    )


def overfits(noadv: Run) -> dict[str, Any]:
    """R9.3: without the discriminator the model overfits early."""
    from cg.train.run_dir import RunDir

    h = noadv.history
    s, p = _facts(noadv)[:2]
    val = (pd.to_numeric(h[f"pixel_error_{s}_val"]) + pd.to_numeric(h[f"pixel_error_{p}_val"])) / 2
    epochs = h["epoch"].astype(int)
    best_epoch = int(epochs[val.idxmin()])
    last_epoch = int(epochs.iloc[-1])
    early = max(1, round(EARLY_FRACTION * last_epoch))
    best_ckpt = RunDir(noadv.out).epoch_checkpoint(best_epoch)
    if best_epoch == last_epoch or not best_ckpt.is_file():
        e = S.Estimate(1.0, math.nan, math.nan, 0)
        numbers = f"validation pixel error lowest at epoch {best_epoch} of {last_epoch}"
        verdict = FAILS if best_epoch == last_epoch else UNDECIDED
    else:
        last_pe = (pixel_errors_of(noadv, s) + pixel_errors_of(noadv, p)) / 2
        at_best = [pixel_errors_of(noadv, d, checkpoint=best_ckpt) for d in (s, p)]
        best_pe = (at_best[0] + at_best[1]) / 2
        e = S.estimate([last_pe, best_pe], S.ratio, paired=True)  # last / best
        numbers = (
            f"validation pixel error lowest at epoch {best_epoch} of {last_epoch} "
            f"({float(val.min()):.4f}), {float(val.iloc[-1]):.4f} at the end"
        )
        verdict = S.both(S.above(e, 1 + OVERFIT_RISE), HOLDS if best_epoch <= early else FAILS)
    return _row(
        "R9.3-overfit",
        noadv.dataset,
        "without the discriminator the model overfits within about 3 epochs",
        f"validation pixel error (both directions) at the last epoch over that at the epoch "
        f"where it was lowest, per image; holds if that epoch is in the first "
        f"{EARLY_FRACTION:.0%} of training and the interval is above {1 + OVERFIT_RISE:g}",
        "pixel error ratio last / best epoch",
        e,
        1 + OVERFIT_RISE,
        numbers,
        verdict,
    )


def adv_generalises_better(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.3: the adversarial model generalises better (a smaller validation - training gap)."""
    s, p = _facts(noadv)[:2]

    def both_directions(run: Run, split: str) -> np.ndarray:
        return (pixel_errors_of(run, s, split) + pixel_errors_of(run, p, split)) / 2

    d_val = both_directions(adv, "val") - both_directions(noadv, "val")
    d_train = both_directions(adv, "train") - both_directions(noadv, "train")
    e = S.estimate([d_val, d_train], S.mean_difference)  # gap(adv) - gap(noadv)
    gap_a = both_directions(adv, "val").mean() - both_directions(adv, "train").mean()
    gap_n = both_directions(noadv, "val").mean() - both_directions(noadv, "train").mean()
    return _row(
        "R9.3-generalise",
        noadv.dataset,
        "the adversarial model generalises better",
        "generalisation gap (validation - training pixel error, both directions) with adv. "
        "minus without; holds if the interval is below 0",
        "gap difference",
        e,
        0.0,
        f"gap with adv. {gap_a:.4f}, without adv. {gap_n:.4f}",
        S.below(e, 0.0),
    )


def cycle_only_does_not_learn(cycle_only: Run, noadv: Run) -> dict[str, Any]:
    """R9.5: with the cycle loss alone the translation is not learnt."""
    a = (pixel_errors_of(cycle_only, "ab") + pixel_errors_of(cycle_only, "ba")) / 2
    b = (pixel_errors_of(noadv, "ab") + pixel_errors_of(noadv, "ba")) / 2
    e = S.estimate([a, b], S.ratio, paired=True)
    return _row(
        "R9.5",
        cycle_only.dataset,
        "the cycle loss alone does not learn the translation",
        f"validation pixel error (both directions) of the cycle-only model over the "
        f"identity-loss model's (no adv.); holds if the interval is above {NOT_LEARNED:g}",
        "pixel error ratio",
        e,
        NOT_LEARNED,
        f"pixel error cycle-only {a.mean():.4f}, with the identity loss {b.mean():.4f}",
        S.above(e, NOT_LEARNED),
    )


def ends_at_identity(run: Run, id_: str, claim: str) -> dict[str, Any]:
    """R9.5 (second part): the run's generators end up copying their input."""
    dist = data_distance(run)
    x = (identity_distances(run, "ab") + identity_distances(run, "ba")) / 2 / dist
    e = S.estimate([x], lambda v: float(np.mean(v)))
    curve = (run.history["identity_ab_val"] + run.history["identity_ba_val"]) / 2
    first, last = float(curve.iloc[0]), float(curve.iloc[-1])
    falling = HOLDS if last <= first else FAILS
    return _row(
        id_,
        run.dataset,
        claim,
        f"|G(x) - x| (both directions) over the data's |A - B|, per image; holds if the "
        f"interval is below {COLLAPSE_FRACTION:g} and |G(x) - x| fell during training",
        "identity distance / data distance",
        e,
        COLLAPSE_FRACTION,
        f"|G(x) - x| {first:.4f} -> {last:.4f} over training; data |A - B| {dist:.4f}",
        S.both(S.below(e, COLLAPSE_FRACTION), falling),
    )


def simpson_to_human_blurry(run: Run) -> dict[str, Any]:
    """R9.4: Simpson -> human is blurry, human -> Simpson is not."""
    ab, ba = detail_ratios(run, "ab"), detail_ratios(run, "ba")
    e = S.estimate([ab, ba], S.mean_difference)
    return _row(
        "R9.4-blur",
        run.dataset,
        "Simpson -> human is blurry, human -> Simpson is not",
        "detail ratio (detail of outputs / of real target images, validation) of human -> "
        "Simpson minus Simpson -> human; holds if the interval is above 0",
        "detail ratio difference",
        e,
        0.0,
        f"detail ratio human -> Simpson {ab.mean():.3f}, Simpson -> human {ba.mean():.3f}",
        S.above(e, 0.0),
    )


def human_to_simpson_better(run: Run) -> dict[str, Any]:
    """R9.4: human -> Simpson works better, by KID against each direction's real target."""
    from cg.report.kid import kid_estimate

    fake_b, _, real_b = outputs(run, "ab")
    fake_a, _, real_a = outputs(run, "ba")
    e, k_ab, k_ba = kid_estimate(fake_b, real_b, fake_a, real_a)
    return _row(
        "R9.4-better",
        run.dataset,
        "human -> Simpson works better than Simpson -> human",
        "KID of each direction's validation outputs against the real images of its target "
        "domain (same Inception yardstick), Simpson -> human minus human -> Simpson; holds if "
        "the interval is above 0",
        "KID difference",
        e,
        0.0,
        f"KID human -> Simpson {k_ab:.4f}, Simpson -> human {k_ba:.4f}",
        S.above(e, 0.0),
    )


# --- per dataset ---------------------------------------------------------------------------


def paired(
    noadv: Run, adv: Run, cycle_only: Run | None = None, cycle_classic: Run | None = None
) -> list[dict[str, Any]]:
    """The checks of a paired dataset's runs (R9.1, R9.2; R9.3 on edges2shoes; R9.5 given the
    cycle-only run, and the cycle + classic identity ablation given that run)."""
    rows = [structure_better_without_adv(noadv, adv)]
    seg = segmentation_better_without_adv(noadv, adv)
    rows += [seg] if seg is not None else []
    rows += [photo_equally_bad(noadv, adv), adv_invents_detail(noadv, adv)]
    if noadv.dataset == "edges2shoes":
        rows += [overfits(noadv), adv_generalises_better(noadv, adv)]
    if cycle_only is not None:
        rows.append(cycle_only_does_not_learn(cycle_only, noadv))
        rows.append(
            ends_at_identity(
                cycle_only,
                "R9.5-identity",
                "the cycle loss alone collapses to the identity mapping",
            )
        )
    if cycle_classic is not None:
        rows.append(
            ends_at_identity(
                cycle_classic,
                "R9.5-classic",
                "cycle + classic identity loss without a discriminator collapses to the identity",
            )
        )
    return rows


def unpaired(run: Run) -> list[dict[str, Any]]:
    """R9.4 on the unpaired face2simpson run."""
    return [simpson_to_human_blurry(run), human_to_simpson_better(run)]
