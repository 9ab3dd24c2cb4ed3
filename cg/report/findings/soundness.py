"""Whether an image statistic reads blur as blur on the images a check decides on.

A check that reads blur or invented detail from a statistic first checks it on its own real
target images, degraded in a known way (:mod:`cg.eval.degrade`): Gaussian blur of rising
sigma must read as strictly less of what the statistic measures, every sigma below the clean
images. Where it does not (built-in shoes have almost no detail inside their edge lines, so
blurring their outlines reads as *more* detail there), the statistic cannot tell the claim's
phenomenon from blur on that data, and the check says ``undecided`` with the readings.
What each statistic says about blotches, noise and JPEG is in the degradation table of
``docs/findings.md`` (:mod:`cg.report.findings.degradations`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch

from cg.eval.degrade import blur
from cg.report.findings import stats as S

#: The blurs a statistic is checked on, in pixels (at the run's image size).
BLUR_SIGMAS = (0.5, 1.0, 2.0)


@dataclasses.dataclass(frozen=True)
class Soundness:
    """The statistic of the images blurred by each of :data:`BLUR_SIGMAS` over that of the
    clean images, and whether it reads blur as blur (``holds``) or not (``undecided``)."""

    readings: tuple[float, ...]

    @property
    def verdict(self) -> str:
        r = np.asarray(self.readings)
        sound = bool(np.all(np.isfinite(r)) and r[0] < 1 and np.all(np.diff(r) < 0))
        return S.HOLDS if sound else S.UNDECIDED

    def __str__(self) -> str:
        sigmas = "/".join(f"{s:g}" for s in BLUR_SIGMAS)
        values = "/".join(f"{r:.2f}" for r in self.readings)
        return f"blur sigma {sigmas} px reads {values} of the clean images"


def reads_blur(statistic: Callable[[torch.Tensor], float], images: torch.Tensor) -> Soundness:
    """:class:`Soundness` of ``statistic`` (images in [-1, 1] -> one number, larger = more
    detail or sharper) on ``images``."""
    clean = statistic(images)
    return Soundness(tuple(float(statistic(blur(images, s)) / clean) for s in BLUR_SIGMAS))
