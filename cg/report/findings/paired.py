"""The report's findings (R9), decided from numbers (R10).

Each check turns one claim into a statistic of per-image values (the final models applied to
the validation images, up to :data:`MAX_IMAGES`) and a verdict: ``holds``, ``does not hold`` or
``undecided``. The rules are fixed here, before any run; no threshold is chosen after seeing a
result, and a rule may only become stricter or sounder.

**The unit of evidence is the training seed.** Given one run per seed for each arm (the arms
of a seed share its data, initial generator weights and batches), a check computes its
statistic per seed, a comparison within that seed, and decides over the seeds
(:func:`cg.report.findings.table.over_seeds`): the mean of the S per-seed statistics and its
95% Student t interval (S - 1 degrees of freedom), ``holds`` when that whole interval is on
the claim's side of its line. Seeds are independent replications, and a statistic averaged
over a hundred images is close to normal across them, where the t interval is exact; an
exact sign-flip test cannot decide with 5 seeds (its smallest two-sided p is 2/32 > 0.05), and
a bootstrap over 5 seeds cannot see beyond them (too narrow). A training run's own variation,
which the images of one model do not show, is 5 to 10 times one model's interval over its
images here; and the same seed trained with another thread count changed 4 of 14 verdicts.
A check's further parts (R9.3-generalise's validation error) are decided over the seeds the
same way, and its yes-or-no parts (R9.3-overfit's early epoch, R9.5-identity's fall) hold only
if they hold on every seed. With one seed, the interval is the percentile bootstrap over the
images (:mod:`cg.report.findings.stats`), which stays in each row's per-seed detail.

Image statistics, in [0, 1] pixel units:

- pixel error of an image: the mean squared error against its target (R5);
- detail ``D(x) = mean(|x[i, j+1] - x[i, j]|) + mean(|x[i+1, j] - x[i, j]|)`` (mean gradient
  magnitude: blurry images have little); the *detail ratio* of a generated image is its detail
  over the mean detail of the real images of its target domain (1 = as much fine structure as
  real images, below 1 blurrier);
- identity distance ``mean |G(x) - x|``, against the data's own ``mean |A - B|`` (what a
  generator that translates must change);
- edge sharpness (R9.4-blur): over windows of 5 pixels that span a strong edge, the share of
  its contrast crossed in the steepest single step
  (:func:`cg.report.findings.scores.edge_sharpness`); unlike ``D``, blotches and noise do not make
  it say "blurrier", but blotches laid over a blur can hide it, so it can show a blur and never
  refute one (rule ``shows_below``);
- invented detail: ``D`` over the neighbouring pixel pairs where the *input* is flat (its
  3x3 neighbourhood within :data:`cg.report.findings.scores.FLAT_RANGE`: inside a segment, away from
  every edge line), over the same of the real targets: the structure a model must invent,
  without the boundaries the input dictates;
- KID (Binkowski et al. 2018) of each direction's outputs against the real images of its
  target domain: one yardstick for both directions of an unpaired run;
- segmentation scores of generated label maps (:mod:`cg.eval.segmentation`).

Each statistic is read on known degradations in :mod:`cg.report.findings.degradations`; a check that
reads blur or invented detail first checks that blur reads as blur on its own real targets
(:mod:`cg.report.findings.soundness`), and is ``undecided`` where it does not.

Every check returns one row (:data:`COLUMNS`); :func:`table` shows rows for a reader and
:func:`write_csv` writes them for a machine (``reports/findings.csv``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from cg.catalog import DATASETS
from cg.eval.segmentation import per_image_scores
from cg.report.findings import stats as S
from cg.report.findings.convergence import adv_generalises_better, overfits
from cg.report.findings.scores import (
    data_distance,
    identity_distances,
    invented_detail_ratios,
    invented_detail_soundness,
    outputs,
    pixel_errors_of,
    task_facts,
    untrained_identity_distances,
)
from cg.report.findings.table import over_seeds, row, seed_block
from cg.report.runs.finished import Run

HOLDS, FAILS, UNDECIDED = S.HOLDS, S.FAILS, S.UNDECIDED

#: R9.2: "about equally bad": the relative pixel-error difference within +-15%.
EQUAL_TOLERANCE = 0.15
#: R9.5: "does not learn the translation": pixel error at least 1.5x the identity-loss model's.
NOT_LEARNED = 1.5
#: R9.5: "collapses to the identity": |G(x) - x| below half of the data's |A - B|.
COLLAPSE_FRACTION = 0.5


# --- the checks ----------------------------------------------------------------------------


def structure_better_without_adv(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.1: segmentation / edge extraction learns better without the adversarial loss."""
    s, _, task, _ = task_facts(noadv)
    a, b = pixel_errors_of(noadv, s), pixel_errors_of(adv, s)
    e = S.estimate([a, b], S.mean_difference, paired=True)
    return row(
        "R9.1",
        noadv.dataset,
        f"{task} learns better without the adversarial loss",
        f"validation pixel error of {task} ({s}) without adv. minus with adv., per image; "
        "holds if the interval is below 0",
        "pixel error difference",
        e,
        0.0,
        f"pixel error without adv. {a.mean():.4f}, with adv. {b.mean():.4f}",
        rule="below",
        facts={"without": a.mean(), "with": b.mean()},
    )


def segmentation_better_without_adv(noadv: Run, adv: Run) -> dict[str, Any] | None:
    """R9.1 scored as the CycleGAN paper scores photo -> labels: class IoU per image."""

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
    return row(
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
        rule="above",
        facts={"without": iou[0].mean(), "with": iou[1].mean()},
    )


def photo_equally_bad(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.2: generating the photo is about equally bad in pixel error either way."""
    _, p, _, task = task_facts(noadv)
    a, b = pixel_errors_of(noadv, p), pixel_errors_of(adv, p)
    e = S.estimate([b, a], S.relative_difference, paired=True)  # (adv - noadv) / adv
    return row(
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
        rule="within",
        facts={"without": a.mean(), "with": b.mean()},
    )


def adv_invents_detail(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.2: only the adversarial model invents detail (the pixel-loss model blurs).

    Invented detail is measured where the input is flat (inside a segment, away from every
    edge line): the detail there is what the input does not give and a model must invent
    (windows, foliage, the texture of a shoe). Measured over all pixels, the detail would
    also count the boundaries the input dictates, which a pixel-loss model copies sharply."""
    _, p, _, task = task_facts(noadv)
    a, b = invented_detail_ratios(noadv, p), invented_detail_ratios(adv, p)
    keep = np.isfinite(a) & np.isfinite(b)  # images whose input has flat pixels
    a, b = a[keep], b[keep]
    e = S.estimate([b, a], S.mean_difference, paired=True)
    sound, floor = invented_detail_soundness(noadv, p)
    return row(
        "R9.2-detail",
        noadv.dataset,
        f"{task}: only the adversarial model invents detail",
        "invented detail ratio (detail of each output where its input is flat / that of the "
        "real targets there) with adv. minus without, per image; holds if the interval is "
        "above 0; undecided where blurring the real targets does not read as less invented "
        "detail (the statistic cannot tell invention from blur on that data)",
        "invented detail ratio difference",
        e,
        0.0,
        f"invented detail ratio with adv. {b.mean():.3f}, without adv. {a.mean():.3f} (1 = as "
        f"much structure where the input is flat as real images have: {floor:.4f}); on the "
        f"real targets {sound}",
        rule="above",
        conditions=[sound.verdict],
        facts={"with": b.mean(), "without": a.mean(), "targets": floor},
    )


def cycle_only_does_not_learn(cycle_only: Run, noadv: Run) -> dict[str, Any]:
    """R9.5: with the cycle loss alone the translation is not learnt."""
    a = (pixel_errors_of(cycle_only, "ab") + pixel_errors_of(cycle_only, "ba")) / 2
    b = (pixel_errors_of(noadv, "ab") + pixel_errors_of(noadv, "ba")) / 2
    e = S.estimate([a, b], S.ratio, paired=True)
    return row(
        "R9.5",
        cycle_only.dataset,
        "the cycle loss alone does not learn the translation",
        f"validation pixel error (both directions) of the cycle-only model over the "
        f"identity-loss model's (no adv.); holds if the interval is above {NOT_LEARNED:g}",
        "pixel error ratio",
        e,
        NOT_LEARNED,
        f"pixel error cycle-only {a.mean():.4f}, with the identity loss {b.mean():.4f}",
        rule="above",
        facts={"cycle-only": a.mean(), "identity loss": b.mean()},
    )


def ends_at_identity(run: Run, id_: str, claim: str) -> dict[str, Any]:
    """R9.5 (second part): the run's generators end up copying their input."""
    dist = data_distance(run)
    final = (identity_distances(run, "ab") + identity_distances(run, "ba")) / 2
    start = (untrained_identity_distances(run, "ab") + untrained_identity_distances(run, "ba")) / 2
    x = final / dist
    e = S.estimate([x], lambda v: float(np.mean(v)))
    first, last = float(start.mean()), float(final.mean())
    falling = HOLDS if last <= first else FAILS
    return row(
        id_,
        run.dataset,
        claim,
        f"|G(x) - x| (both directions) over the data's |A - B|, per image; holds if the "
        f"interval is below {COLLAPSE_FRACTION:g} and |G(x) - x| fell during training (the "
        "final model against the untrained one)",
        "identity distance / data distance",
        e,
        COLLAPSE_FRACTION,
        f"|G(x) - x| {first:.4f} -> {last:.4f} over training; data |A - B| {dist:.4f}",
        rule="below",
        conditions=[falling],
        facts={"untrained": first, "final": last, "data": dist},
    )


# --- per dataset ---------------------------------------------------------------------------


def checks(
    noadv: Run | Sequence[Run],
    adv: Run | Sequence[Run],
    cycle_only: Run | Sequence[Run] | None = None,
    cycle_classic: Run | Sequence[Run] | None = None,
) -> list[dict[str, Any]]:
    """The checks of a paired dataset's runs (R9.1, R9.2; R9.3 on edges2shoes; R9.5 given the
    cycle-only runs, and the cycle + classic identity ablation given those). Each arm is a
    run or one run per seed (noadv, adv and cycle-only of the same seeds, in the same order):
    each check is then computed per seed and decided over the seeds
    (:func:`cg.report.findings.table.over_seeds`). The ablation, a check of its own runs
    alone, is decided over whatever seeds it was trained for."""
    seeds, per_seed = seed_block(noadv, adv, cycle_only)
    rows = [_paired_seed(*runs) for runs in per_seed]
    out = [over_seeds([r[i] for r in rows], seeds) for i in range(len(rows[0]))]
    if cycle_classic is not None:
        classic_seeds, classic = seed_block(cycle_classic)
        claim = "cycle + classic identity loss without a discriminator collapses to the identity"
        out.append(
            over_seeds(
                [ends_at_identity(r, "R9.5-classic", claim) for (r,) in classic], classic_seeds
            )
        )
    return out


def _paired_seed(noadv: Run, adv: Run, cycle_only: Run | None = None) -> list[dict[str, Any]]:
    """The checks of one seed's runs."""
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
    return rows
