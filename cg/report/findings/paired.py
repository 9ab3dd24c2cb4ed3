"""The checks of the paired datasets (R9.1, R9.2, R9.3 on edges2shoes, R9.5), decided from
numbers (R10); :func:`checks` is what the Cityscapes and edges2shoes notebooks call.

Each check computes its statistics once per training seed from per-image values (the final
models applied to the validation images, up to :data:`cg.report.findings.scores.MAX_IMAGES`),
each seed's arms sharing its data, initial generator weights and batches; its rule
(:data:`cg.report.findings.rules.RULES`: the statistic's scale, line and regions, written
once) decides it over the seeds (:func:`cg.report.findings.table.over_seeds`), and the report's
checks are then decided as one family (:func:`cg.report.findings.table.decide_families`).

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
  (:func:`cg.report.findings.scores.edge_sharpness`); unlike ``D``, blotches and noise do not
  make it say "blurrier", but blotches laid over a blur can hide a blur from it (the numbers
  of R9.4-blur say so where the mean gradient reads the outputs as more detailed);
- invented detail: ``D`` over the neighbouring pixel pairs where the *input* is flat (its
  3x3 neighbourhood within :data:`cg.report.findings.scores.FLAT_RANGE`: inside a segment,
  away from every edge line), over the same of the real targets: the structure a model must invent,
  without the boundaries the input dictates;
- KID (Binkowski et al. 2018) of each direction's outputs against the real images of its
  target domain, over the KID of the untranslated inputs against the same images (what
  copying the input would score): the share of the domain gap a direction leaves;
- segmentation scores of generated label maps (:mod:`cg.eval.segmentation`).

Each statistic is read on known degradations in :mod:`cg.report.findings.degradations`; a
check that reads blur or invented detail is gated on blur reading as blur on its own real
targets (:mod:`cg.report.findings.soundness`), and is ``undecided`` where it does not,
whichever way its value points.

Every check returns one row per seed (:func:`cg.report.findings.table.row`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from cg.catalog import DATASETS
from cg.errors import UserError
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

# --- the checks: each one seed's statistics; the rules are cg.report.findings.rules' ---------


def structure_better_without_adv(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.1: segmentation / edge extraction learns better without the adversarial loss."""
    s, _, task, _ = task_facts(noadv)
    a, b = pixel_errors_of(noadv, s), pixel_errors_of(adv, s)
    return row(
        "R9.1",
        noadv.dataset,
        f"{task} learns better without the adversarial loss",
        f"validation pixel error of {task} ({s}) without adv. minus with adv., per image",
        S.estimate([a, b], S.mean_difference, paired=True),
        f"pixel error without adv. {a.mean():.4f}, with adv. {b.mean():.4f}",
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
    return row(
        "R9.1-seg",
        noadv.dataset,
        "segmentation learns better without the adversarial loss (segmentation scores)",
        "class IoU of the decoded label maps (nearest palette colour) without adv. minus with "
        "adv., per image",
        S.estimate(iou, S.mean_difference, paired=True),
        f"class IoU without adv. {iou[0].mean():.3f}, with adv. {iou[1].mean():.3f}; pixel "
        f"accuracy {acc[0]:.3f} vs {acc[1]:.3f}",
        facts={"without": iou[0].mean(), "with": iou[1].mean()},
    )


def photo_equally_bad(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.2: generating the photo is about equally bad in pixel error either way."""
    _, p, _, task = task_facts(noadv)
    a, b = pixel_errors_of(noadv, p), pixel_errors_of(adv, p)
    return row(
        "R9.2-equal",
        noadv.dataset,
        f"{task}: about equally bad in pixel error either way",
        "ratio of the mean validation pixel errors with adv. / without adv.",
        S.estimate([b, a], S.ratio, paired=True),
        f"pixel error without adv. {a.mean():.4f}, with adv. {b.mean():.4f}",
        facts={"without": a.mean(), "with": b.mean()},
    )


def adv_invents_detail(noadv: Run, adv: Run) -> dict[str, Any]:
    """R9.2: only the adversarial model invents detail (the pixel-loss model blurs).

    Invented detail is measured where the input is flat (inside a segment, away from every
    edge line): the detail there is what the input does not give and a model must invent
    (windows, foliage, the texture of a shoe). Measured over all pixels, the detail would
    also count the boundaries the input dictates, which a pixel-loss model copies sharply.
    The check is gated on its statistic reading blur as blur on its own real targets."""
    _, p, _, task = task_facts(noadv)
    a, b = invented_detail_ratios(noadv, p), invented_detail_ratios(adv, p)
    keep = np.isfinite(a) & np.isfinite(b)  # images whose input has flat pixels
    a, b = a[keep], b[keep]
    sound, floor = invented_detail_soundness(noadv, p)
    return row(
        "R9.2-detail",
        noadv.dataset,
        f"{task}: only the adversarial model invents detail",
        "invented detail ratio (detail of each output where its input is flat / that of the "
        "real targets there), mean with adv. over mean without adv.; gated on blurring the "
        "real targets reading as less invented detail (the statistic cannot tell invention "
        "from blur where it does not)",
        S.estimate([b, a], S.ratio, paired=True),
        f"invented detail ratio with adv. {b.mean():.3f}, without adv. {a.mean():.3f} (1 = as "
        f"much structure where the input is flat as real images have: {floor:.4f}); on the "
        f"real targets {sound}",
        gate=sound.verdict,
        facts={"with": b.mean(), "without": a.mean(), "targets": floor},
    )


def cycle_only_does_not_learn(cycle_only: Run, noadv: Run) -> dict[str, Any]:
    """R9.5: with the cycle loss alone the translation is not learnt."""
    a = (pixel_errors_of(cycle_only, "ab") + pixel_errors_of(cycle_only, "ba")) / 2
    b = (pixel_errors_of(noadv, "ab") + pixel_errors_of(noadv, "ba")) / 2
    return row(
        "R9.5",
        cycle_only.dataset,
        "the cycle loss alone does not learn the translation",
        "validation pixel error (both directions) of the cycle-only model over the "
        "identity-loss model's (no adv.)",
        S.estimate([a, b], S.ratio, paired=True),
        f"pixel error cycle-only {a.mean():.4f}, with the identity loss {b.mean():.4f}",
        facts={"cycle-only": a.mean(), "identity loss": b.mean()},
    )


def ends_at_identity(run: Run, id_: str, claim: str) -> dict[str, Any]:
    """R9.5 (second part): the run's generators end up copying their input, having moved
    towards it during training (the final model's |G(x) - x| over the untrained one's)."""
    dist = data_distance(run)
    final = (identity_distances(run, "ab") + identity_distances(run, "ba")) / 2
    start = (untrained_identity_distances(run, "ab") + untrained_identity_distances(run, "ba")) / 2
    first, last = float(start.mean()), float(final.mean())
    return row(
        id_,
        run.dataset,
        claim,
        "|G(x) - x| (both directions) over the data's |A - B|, per image; and the final "
        "model's mean |G(x) - x| over the untrained one's",
        S.estimate([final / dist], lambda v: float(np.mean(v))),
        f"|G(x) - x| {first:.4f} -> {last:.4f} over training; data |A - B| {dist:.4f}",
        parts=[last / first],
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
    run or one run per seed of the block (the same seeds, in the same order): each check is
    computed per seed and decided over the seeds (:func:`cg.report.findings.table.over_seeds`).
    The ablation's runs must be of the block's seeds as well: a check with fewer seeds than
    the block is undecided."""
    seeds, per_seed = seed_block(noadv, adv, cycle_only)
    rows = [_paired_seed(*runs) for runs in per_seed]
    out = [over_seeds([r[i] for r in rows], seeds) for i in range(len(rows[0]))]
    if cycle_classic is not None:
        classic_seeds, classic = seed_block(cycle_classic)
        if any(s not in seeds for s in classic_seeds):
            raise UserError(
                f"the classic-identity runs are of seeds {classic_seeds}, not of the block "
                f"{seeds}; train the ablation for the block's seeds"
            )
        claim = "cycle + classic identity loss without a discriminator collapses to the identity"
        out.append(
            over_seeds(
                [ends_at_identity(r, "R9.5-classic", claim) for (r,) in classic],
                classic_seeds,
                expected=len(seeds),
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
