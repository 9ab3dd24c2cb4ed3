"""The finding of the unpaired face2simpson run (R9.4), decided from numbers (R10) as in
:mod:`cg.report.findings.paired`: which direction is blurry, and which works better."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cg.report.findings import stats as S
from cg.report.findings.kid import kid_estimate
from cg.report.findings.scores import detail_ratios, mean_edge_sharpness, outputs, sharpness_ratios
from cg.report.findings.soundness import reads_blur
from cg.report.findings.table import over_seeds, row, seed_block
from cg.report.runs.finished import Run

#: Validation images per domain in R9.4-better's KID: four Inception passes of this many images
#: per seed (about 0.12 s an image on a CPU). KID is unbiased at any size; over several seeds,
#: its per-seed noise is part of the spread that the interval over the seeds measures.
KID_IMAGES = 64


def simpson_to_human_blurry(run: Run) -> dict[str, Any]:
    """R9.4: Simpson -> human is blurry, human -> Simpson is not.

    Read with edge sharpness (:func:`cg.report.findings.scores.edge_sharpness`), not the mean
    gradient: blotches and noise add gradients, so generated faces with block artefacts read
    as *more* detailed than real ones under the mean gradient, whatever their blur. Neither
    blotches nor noise read as blurrier under edge sharpness (the README's degradation
    table), so outputs reading blurrier than real faces are blurry; but blotches laid over a
    blur can hide it (blur 1 px under colour patches reads as sharp on the built-in faces),
    so a reading of "not blurrier" cannot refute the claim: the rules are ``shows_below``
    and ``shows_above`` (:mod:`cg.report.findings.stats`).
    The statistic must also read blur as blur on both domains' real images
    (:mod:`cg.report.findings.soundness`)."""

    ab, ba = sharpness_ratios(run, "ab"), sharpness_ratios(run, "ba")
    real = {"b": outputs(run, "ab")[2], "a": outputs(run, "ba")[2]}
    e = S.estimate([ba], lambda v: float(np.nanmean(v)))
    e_diff = S.estimate([ab, ba], lambda a, b: float(np.nanmean(a) - np.nanmean(b)))
    sound = {d: reads_blur(mean_edge_sharpness, x) for d, x in real.items()}
    blur_read = S.both(*(s.verdict for s in sound.values()))
    d_ab, d_ba = detail_ratios(run, "ab"), detail_ratios(run, "ba")
    return row(
        "R9.4-blur",
        run.dataset,
        "Simpson -> human is blurry, human -> Simpson is not",
        "edge sharpness ratio (edge sharpness of the outputs / of the real target images, "
        "validation) of Simpson -> human; holds if its interval is below 1 and the ratio of "
        "human -> Simpson minus it is above 0; never 'does not hold', since blotches over a "
        "blur read as sharp (degradation table); undecided where the statistic does not read "
        "blur as blur on the real images of both domains",
        "sharpness ratio Simpson -> human",
        e,
        1.0,
        f"sharpness ratio Simpson -> human {np.nanmean(ba):.3f}, human -> Simpson "
        f"{np.nanmean(ab):.3f} (difference {e_diff}); mean-gradient detail ratio Simpson -> "
        f"human {d_ba.mean():.3f}, human -> Simpson {d_ab.mean():.3f}; on real faces "
        f"{sound['a']}, on real Simpsons {sound['b']}",
        rule="shows_below",
        parts=[("shows_above", 0.0, e_diff)],
        conditions=[blur_read],
        facts={"Simpson -> human": np.nanmean(ba), "human -> Simpson": np.nanmean(ab)},
    )


def human_to_simpson_better(run: Run) -> dict[str, Any]:
    """R9.4: human -> Simpson works better, by KID against each direction's real target."""

    fake_b, real_a, _ = (x[:KID_IMAGES] for x in outputs(run, "ab"))
    fake_a, real_b, _ = (x[:KID_IMAGES] for x in outputs(run, "ba"))
    e, k_ab, k_ba = kid_estimate(fake_b, real_b, fake_a, real_a)
    return row(
        "R9.4-better",
        run.dataset,
        "human -> Simpson works better than Simpson -> human",
        f"KID of each direction's outputs of the first {KID_IMAGES} validation images of its "
        "source domain against those images of its target domain as the real ones (the same "
        "Inception yardstick), Simpson -> human minus human -> Simpson; holds if the interval "
        "is above 0",
        "KID difference",
        e,
        0.0,
        f"KID human -> Simpson {k_ab:.4f}, Simpson -> human {k_ba:.4f}",
        rule="above",
        facts={"human -> Simpson": k_ab, "Simpson -> human": k_ba},
    )


def checks(run: Run | Sequence[Run]) -> list[dict[str, Any]]:
    """R9.4 on the unpaired face2simpson run, or on one run per seed (decided over them)."""
    seeds, per_seed = seed_block(run)
    rows = [[simpson_to_human_blurry(r), human_to_simpson_better(r)] for (r,) in per_seed]
    return [over_seeds([r[i] for r in rows], seeds) for i in range(len(rows[0]))]
