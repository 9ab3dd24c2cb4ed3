"""The rules of the findings, written once: every check's per-seed statistic, the scale it is
tested on, its line, and what each region means; and how a check and a family are decided.

A check is one or more **parts**, each a statistic computed once per training seed and tested
over the seeds against its line (:func:`cg.report.findings.stats.against_line`). A ratio is
tested as its log against the log of its line, and shown as a ratio. The claim holds where
every part is on its side; it does not hold where a part is clearly on the other side; it is
undecided otherwise. In p values:

- ``p`` for *holds* is the largest of the parts' one-sided p for their sides (an
  intersection-union test: every part must hold);
- ``p`` for *does not hold* is the smallest of the parts' one-sided p against, times the
  number of parts (Bonferroni: any one part may refute);
- the check's ``p`` is the smaller of the two, and ``verdict_raw`` is its side where ``p`` is
  below 2.5% (each side of the 95% interval), ``undecided`` otherwise.

Three things make a check ``undecided`` whatever its numbers: a failed **gate** (its statistic
does not read blur as blur on its own real targets, :mod:`cg.report.findings.soundness`),
fewer seeds than the block has (a check from one model shows only that model's images), and a
non-finite value.

The report's 11 checks are one **family**, the further checks another; each family is decided
with Holm's correction at :data:`FAMILY_ALPHA` on the checks' two-sided p (2 ``p``): the chance
that any decisive verdict of a family ("holds" or "does not hold") is wrong is at most 5%,
whatever the truth of each check (as far as the t test's assumptions hold). ``verdict`` is that
family-wise verdict; ``verdict_raw`` the check's alone.

Every change of these rules raises :data:`VERSION` and is recorded in ``docs/findings.md``
with block 0's verdicts before and after it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cg.report.findings import stats as S

#: The rules' version: written into every row of ``findings.csv`` (column ``rules``).
VERSION = "2"
#: Each family's error: the chance of any wrong decisive verdict in it.
FAMILY_ALPHA = 0.05
#: R9.2: "about equally bad": the pixel errors' ratio within a factor of 1.15 either way.
EQUAL_FACTOR = 1.15
#: R9.4: "blurry": edge sharpness below 90% of the real images' (about what a blur of half a
#: pixel does to real faces); one line for both directions, so that "blurry" and "not blurry"
#: can never both hold of one reading.
BLURRY = 0.9
#: R9.5: "does not learn the translation": pixel error at least 1.5x the identity-loss model's.
NOT_LEARNED = 1.5
#: R9.5: "collapses to the identity": |G(x) - x| below half of the data's |A - B|.
COLLAPSE_FRACTION = 0.5
#: R9.3: "overfits within about 3 epochs" of the report's 15: the error of the last fifth of
#: training above that around the first fifth (from a tenth to three tenths of training, where
#: the claim puts the minimum). Both windows are fixed in advance, so that nothing is chosen
#: on the curve and a level curve reads 1 up to noise: the line is 1 (any rise).
OVERFIT_RISE = 1.0
EARLY_WINDOW = (0.1, 0.3)
LATE_FRACTION = 0.2

REPORT, FURTHER = "report", "further"


@dataclass(frozen=True)
class Part:
    """One statistic of a check: computed per seed, tested over the seeds against ``line``.
    ``side``: where the claim puts it (``above``, ``below``, or ``within`` a band: ``line``
    is then the band's upper end, its lower end ``-line``, or ``1 / line`` for a ratio).
    ``ratio``: tested as a log ratio against ``log(line)``."""

    statistic: str
    side: str
    line: float
    ratio: bool = False

    def tested(self, values: Sequence[float]) -> np.ndarray:
        """``values`` on the tested scale."""
        v = np.asarray(values, dtype=np.float64)
        if not self.ratio:
            return v
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), np.nan)

    @property
    def tested_line(self) -> float:
        return math.log(self.line) if self.ratio else self.line

    def shown(self, x: float) -> float:
        """A value of the tested scale back on the shown one."""
        return math.exp(x) if self.ratio and np.isfinite(x) else x

    def describe(self) -> str:
        scale = " (tested as its log against the log of the line)" if self.ratio else ""
        if self.side == "within":
            low = 1 / self.line if self.ratio else -self.line
            return f"{self.statistic} within [{low:.3g}, {self.line:g}]{scale}"
        return f"{self.statistic} {self.side} {self.line:g}{scale}"


@dataclass(frozen=True)
class Rule:
    """A check's rule: its parts (the first is the check's headline statistic), its family,
    whether a gate decides whether it can be read, and what its regions mean."""

    id: str
    family: str
    parts: tuple[Part, ...]
    holds: str
    fails: str
    gate: str = ""

    def describe(self) -> str:
        parts = "; and ".join(p.describe() for p in self.parts)
        gate = f"; undecided unless {self.gate}" if self.gate else ""
        return f"holds if {parts}{gate}"


#: Every check's rule, written before its verdicts are seen (version :data:`VERSION`).
RULES: Mapping[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "R9.1",
            REPORT,
            (Part("pixel error difference without - with adv.", "below", 0.0),),
            holds="the structure task's validation pixel error is lower without the adversarial "
            "loss",
            fails="it is lower with the adversarial loss",
        ),
        Rule(
            "R9.1-seg",
            FURTHER,
            (Part("class IoU difference without - with adv.", "above", 0.0),),
            holds="the decoded label maps score a higher class IoU without the adversarial loss",
            fails="they score higher with it",
        ),
        Rule(
            "R9.2-equal",
            REPORT,
            (Part("pixel error ratio with / without adv.", "within", EQUAL_FACTOR, ratio=True),),
            holds=f"the photos' pixel errors are within a factor of {EQUAL_FACTOR:g} of each other",
            fails="one model's photos are more than that worse",
        ),
        Rule(
            "R9.2-detail",
            REPORT,
            (Part("invented detail ratio with / without adv.", "above", 1.0, ratio=True),),
            holds="the adversarial model's outputs hold more structure where the input is flat",
            fails="the model without it holds more",
            gate="blur reads as less invented detail on the real targets",
        ),
        Rule(
            "R9.3-overfit",
            REPORT,
            (
                Part(
                    "pixel error ratio last fifth / first fifth", "above", OVERFIT_RISE, ratio=True
                ),
            ),
            holds="the validation error is higher at the end of training than around its first "
            "fifth",
            fails="it is lower at the end: still falling, or its minimum comes late",
        ),
        Rule(
            "R9.3-generalise",
            REPORT,
            (
                Part("generalisation gap difference with - without adv.", "below", 0.0),
                Part("validation pixel error difference with - without adv.", "below", 0.0),
            ),
            holds="the adversarial model has the smaller gap and the lower validation error",
            fails="its gap or its validation error is the larger",
        ),
        Rule(
            "R9.4-blur",
            REPORT,
            (
                Part("edge sharpness ratio Simpson -> human", "below", BLURRY, ratio=True),
                Part("edge sharpness ratio human -> Simpson", "above", BLURRY, ratio=True),
            ),
            holds="the human faces come out blurrier than real faces and the Simpsons do not "
            "come out blurrier than real Simpsons",
            fails="the faces are not blurry, or the Simpsons are",
            gate="blur reads as blur on both domains' real images",
        ),
        Rule(
            "R9.4-better",
            REPORT,
            (Part("KID over copying's, Simpson -> human minus human -> Simpson", "above", 0.0),),
            holds="human -> Simpson leaves less of its domain gap than Simpson -> human",
            fails="it leaves more",
        ),
        Rule(
            "R9.5",
            REPORT,
            (Part("pixel error ratio cycle-only / identity", "above", NOT_LEARNED, ratio=True),),
            holds=f"the cycle-only model's pixel error is more than {NOT_LEARNED:g}x the "
            "identity-loss model's",
            fails="it is less than that",
        ),
        *(
            Rule(
                id_,
                FURTHER,
                (
                    Part("|G(x) - x| / data |A - B|", "below", COLLAPSE_FRACTION, ratio=True),
                    Part("|G(x) - x| final / untrained", "below", 1.0, ratio=True),
                ),
                holds="the generators end near the identity and moved towards it in training",
                fails="they end far from it, or moved away from it",
            )
            for id_ in ("R9.5-identity", "R9.5-classic")
        ),
    )
}

#: The report's own checks (R9): the first family.
REPORT_CHECKS = frozenset(i for i, r in RULES.items() if r.family == REPORT)


@dataclass(frozen=True)
class Decision:
    """A check decided over its seeds: each part's test, the check's ``p`` and side, its own
    verdict, and why it is undecided where a rule forces that (``reason``)."""

    tests: tuple[S.LineTest, ...]
    p: float
    verdict_raw: str
    decided_by: int | None
    reason: str = ""


def decide(
    rule: Rule,
    values: Sequence[Sequence[float]],
    *,
    gate: str | None = None,
    seeds_expected: int = 2,
) -> Decision:
    """``rule`` on ``values`` (per part, one value per seed, on the shown scale): the parts'
    tests, and the check's p and verdict. ``gate`` is the gate's verdict over the seeds
    (``holds`` or not; None where the rule has none); ``seeds_expected`` the block's seeds."""
    tests = tuple(
        S.against_line(p.tested(v), p.side, p.tested_line) for p, v in zip(rule.parts, values)
    )
    n = min((len(v) for v in values), default=0)
    reason = ""
    if n < max(2, seeds_expected):
        reason = (
            f"{n} of the block's {seeds_expected} seeds"
            if n < seeds_expected
            else "one trained model: its images do not show how training varies"
        )
    elif rule.gate and gate != S.HOLDS:
        reason = f"the gate failed: it needs {rule.gate}"
    elif not all(np.isfinite(t.p) for t in tests):
        reason = "a value is not finite"
    if reason:
        return Decision(tests, math.nan, S.UNDECIDED, None, reason)
    p_hold = max(t.p_for for t in tests)
    p_fail = min(1.0, len(tests) * min(t.p_against for t in tests))
    if p_hold <= p_fail:
        p, side = p_hold, S.HOLDS
        by = max(range(len(tests)), key=lambda i: tests[i].p_for)  # the weakest part
    else:
        p, side = p_fail, S.FAILS
        by = min(range(len(tests)), key=lambda i: tests[i].p_against)  # the refuting part
    verdict = side if p < (1 - S.LEVEL) / 2 else S.UNDECIDED
    return Decision(tests, p, verdict, by)


def family_verdicts(p: Sequence[float], raw: Sequence[str]) -> list[str]:
    """The family-wise verdicts of one family's checks, from their ``p`` and raw verdicts:
    Holm's correction at :data:`FAMILY_ALPHA` on the two-sided p (2 ``p``); a check it
    rejects takes the side of its raw p, the others are ``undecided``."""
    two_sided = [min(1.0, 2 * x) if np.isfinite(x) else math.nan for x in p]
    reject = S.holm(two_sided, FAMILY_ALPHA)
    return [v if r and v != S.UNDECIDED else S.UNDECIDED for r, v in zip(reject, raw)]
