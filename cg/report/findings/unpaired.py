"""The finding of the unpaired face2simpson run (R9.4), decided from numbers (R10) as in
:mod:`cg.report.findings.paired`: which direction is blurry, and which works better."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cg.report.findings import stats as S
from cg.report.findings.kid import kid_estimate
from cg.report.findings.rules import BLURRY
from cg.report.findings.scores import detail_ratios, mean_edge_sharpness, outputs, sharpness_ratios
from cg.report.findings.soundness import reads_blur
from cg.report.findings.table import over_seeds, row, seed_block
from cg.report.runs.finished import Run

#: Validation images per domain in R9.4-better's KID: four Inception passes of this many images
#: per seed (about 0.12 s an image on a CPU). KID is unbiased at any size; over several seeds,
#: its per-seed noise is part of the spread that the interval over the seeds measures.
KID_IMAGES = 64


def simpson_to_human_blurry(run: Run) -> dict[str, Any]:
    """R9.4: Simpson -> human is blurry, human -> Simpson is not: the claim as the report
    writes it, in two parts, each against one line of "blurry" (:data:`BLURRY` of the real
    images' edge sharpness): the Simpson -> human outputs below it, the human -> Simpson
    outputs above it. A clear reading against either part refutes the claim.

    Read with edge sharpness (:func:`cg.report.findings.scores.edge_sharpness`), not the mean
    gradient: blotches and noise add gradients, so generated faces with block artefacts read
    as *more* detailed than real ones under the mean gradient, whatever their blur. Neither
    blotches nor noise read as blurrier under edge sharpness, but blotches laid over a blur
    can hide it (the degradation table, ``python -m cg.report.findings.degradations``): the
    numbers give the mean gradient beside it, and where the mean gradient reads the outputs
    as more detailed than real ones while edge sharpness reads them as sharp, say that
    blotches may hide a blur. The check is gated on the statistic reading blur as blur on
    both domains' real images (:mod:`cg.report.findings.soundness`)."""

    ab, ba = sharpness_ratios(run, "ab"), sharpness_ratios(run, "ba")
    real = {"b": outputs(run, "ab")[2], "a": outputs(run, "ba")[2]}
    sound = {d: reads_blur(mean_edge_sharpness, x) for d, x in real.items()}
    gate = S.HOLDS if all(v.verdict == S.HOLDS for v in sound.values()) else S.UNDECIDED
    d_ab, d_ba = detail_ratios(run, "ab"), detail_ratios(run, "ba")
    s_ab, s_ba = float(np.nanmean(ab)), float(np.nanmean(ba))
    hidden = (
        "; the mean gradient reads the faces as more detailed than real ones: blotches may "
        "hide a blur from edge sharpness"
        if d_ba.mean() > 1 and s_ba >= BLURRY
        else ""
    )
    return row(
        "R9.4-blur",
        run.dataset,
        "Simpson -> human is blurry, human -> Simpson is not",
        "edge sharpness ratio (edge sharpness of the outputs / of the real target images, "
        "validation) of Simpson -> human, and of human -> Simpson; gated on the statistic "
        "reading blur as blur on the real images of both domains",
        S.estimate([ba], lambda v: float(np.nanmean(v))),
        f"sharpness ratio Simpson -> human {s_ba:.3f}, human -> Simpson {s_ab:.3f}; "
        f"mean-gradient detail ratio Simpson -> human {d_ba.mean():.3f}, human -> Simpson "
        f"{d_ab.mean():.3f}{hidden}; on real faces {sound['a']}, on real Simpsons {sound['b']}",
        parts=[s_ab],
        gate=gate,
        facts={
            "Simpson -> human": s_ba,
            "human -> Simpson": s_ab,
            "detail Simpson -> human": d_ba.mean(),
        },
    )


def human_to_simpson_better(run: Run) -> dict[str, Any]:
    """R9.4: human -> Simpson works better: each direction's KID against its real target,
    over the KID of copying the input (:func:`cg.report.findings.kid.kid_estimate`), on
    Inception features in the precision the run trained in: bf16 for a bf16 run, else fp32
    (docs/benchmarks.md: the rule and its verdict)."""

    fake_b, real_a, _ = (x[:KID_IMAGES] for x in outputs(run, "ab"))
    fake_a, real_b, _ = (x[:KID_IMAGES] for x in outputs(run, "ba"))
    e, kids = kid_estimate(fake_b, real_b, fake_a, real_a, bf16=run.config.precision == "bf16")
    return row(
        "R9.4-better",
        run.dataset,
        "human -> Simpson works better than Simpson -> human",
        f"KID of each direction's outputs of the first {KID_IMAGES} validation images of its "
        "source domain against those images of its target domain, over the KID of the "
        "untranslated inputs against the same images (copying the input), Simpson -> human "
        "minus human -> Simpson",
        e,
        f"KID human -> Simpson {kids['ab']:.4f}, Simpson -> human {kids['ba']:.4f}, copying the "
        f"input {kids['copy']:.4f}",
        facts={
            "human -> Simpson": kids["ab"],
            "Simpson -> human": kids["ba"],
            "copy": kids["copy"],
        },
    )


def checks(run: Run | Sequence[Run]) -> list[dict[str, Any]]:
    """R9.4 on the unpaired face2simpson run, or on one run per seed (decided over them)."""
    seeds, per_seed = seed_block(run)
    rows = [[simpson_to_human_blurry(r), human_to_simpson_better(r)] for (r,) in per_seed]
    return [over_seeds([r[i] for r in rows], seeds) for i in range(len(rows[0]))]
