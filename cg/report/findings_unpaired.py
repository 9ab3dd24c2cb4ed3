"""The finding of the unpaired face2simpson run (R9.4), decided from numbers (R10) as in
:mod:`cg.report.findings`: which direction is blurry, and which works better."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cg.report import stats as S
from cg.report.findings_table import over_seeds, row, seed_block
from cg.report.scores import detail_ratios, outputs

if TYPE_CHECKING:
    from cg.report.experiments import Run

#: Validation images per domain in R9.4-better's KID: four Inception passes of this many images
#: per seed (about 0.12 s an image on a CPU). KID is unbiased at any size; over several seeds,
#: its per-seed noise is part of the spread that the interval over the seeds measures.
KID_IMAGES = 64


def simpson_to_human_blurry(run: Run) -> dict[str, Any]:
    """R9.4: Simpson -> human is blurry, human -> Simpson is not."""
    ab, ba = detail_ratios(run, "ab"), detail_ratios(run, "ba")
    e = S.estimate([ab, ba], S.mean_difference)
    return row(
        "R9.4-blur",
        run.dataset,
        "Simpson -> human is blurry, human -> Simpson is not",
        "detail ratio (detail of outputs / of real target images, validation) of human -> "
        "Simpson minus Simpson -> human; holds if the interval is above 0",
        "detail ratio difference",
        e,
        0.0,
        f"detail ratio human -> Simpson {ab.mean():.3f}, Simpson -> human {ba.mean():.3f}",
        rule="above",
    )


def human_to_simpson_better(run: Run) -> dict[str, Any]:
    """R9.4: human -> Simpson works better, by KID against each direction's real target."""
    from cg.report.kid import kid_estimate

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
    )


def unpaired(run: Run | Sequence[Run]) -> list[dict[str, Any]]:
    """R9.4 on the unpaired face2simpson run, or on one run per seed (decided over them)."""
    seeds, per_seed = seed_block(run)
    rows = [[simpson_to_human_blurry(r), human_to_simpson_better(r)] for (r,) in per_seed]
    return [over_seeds([r[i] for r in rows], seeds) for i in range(len(rows[0]))]
