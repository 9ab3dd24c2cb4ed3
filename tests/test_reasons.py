"""Why a check does not show: sentences made from the check's numbers and the data's
measurements (:mod:`cg.report.findings.reasons`)."""

from __future__ import annotations

import pandas as pd

from cg.report.findings import reasons
from cg.report.findings import stats as S
from cg.report.findings.table import over_seeds, row


def _row(id_, value, low, high, line, rule, dataset="edges2shoes", conditions=(), parts=(),
         **facts):  # fmt: skip
    e = S.Estimate(value, low, high, 128)
    return row(id_, dataset, "claim", "test", "statistic", e, line, "numbers", rule=rule,
               conditions=conditions, parts=parts, facts=facts)  # fmt: skip


def _measures():
    # the notebooks' table: one row per domain, A then B
    return pd.DataFrame(
        {
            "fine (1-2 px)": [2.1, 10.9],
            "appearance diversity": [0.26, 0.22],
            "variance left given the other domain": [0.34, 0.25],
        },
        index=["edges", "shoe"],
    )


def test_a_check_that_holds_has_no_reason_and_the_table_lists_only_the_others():
    held = _row("R9.1", -0.01, -0.02, -0.005, 0.0, "below", without=0.01, **{"with": 0.02})
    failed = _row("R9.2-equal", 0.3, 0.25, 0.35, 0.15, "within", without=0.02, **{"with": 0.03})
    assert held["verdict"] == S.HOLDS and reasons.why(held) == ""
    assert failed["verdict"] == S.FAILS
    t = reasons.table([held, failed], _measures())
    assert list(t.index) == ["R9.2-equal"] and t.loc["R9.2-equal", "verdict"] == S.FAILS


def test_pixel_error_reason_gives_the_errors_and_what_the_input_leaves_open():
    r = _row("R9.2-equal", 0.31, 0.25, 0.35, 0.15, "within", without=0.0205, **{"with": 0.0297})
    text = reasons.why(r, _measures())
    assert "0.0297 against 0.0205" in text and "+31%" in text
    # edges2shoes makes shoe photos (A -> B): the shoe's row, B
    assert "Given the edge map, 25% of the shoe photo's variance is left open" in text
    assert "Given the" not in reasons.why(r)  # no measurement, no clause


def test_overfit_reason_names_the_minimum_per_seed_over_the_seeds():
    rows = [
        _row(
            "R9.3-overfit",
            1.0,
            0.98,
            1.02,
            1.05,
            "above",
            conditions=[S.FAILS],
            **{"best epoch": b, "last epoch": 16, "early": 5},
        )  # fmt: skip
        for b in (15, 16, 12)
    ]
    decided = over_seeds(rows, [0, 1, 2])
    assert decided["_facts"]["best epoch"] == [15.0, 16.0, 12.0]
    text = reasons.why(decided)
    assert "epoch 15, 16, 12 of 16" in text and "on 3 of 3 seeds" in text
    assert "levels off" in text
    rising = _row("R9.3-overfit", 1.1, 1.06, 1.14, 1.05, "above", conditions=[S.FAILS],
                  **{"best epoch": 58, "last epoch": 64, "early": 13})  # fmt: skip
    text = reasons.why(rising)
    assert "rises by the end (1.1 times its minimum), but from a late minimum" in text


def test_generalise_reason_tells_a_worse_fit_from_a_smaller_gap():
    facts = {"gap with": 0.004, "gap without": 0.009, "val with": 0.030, "val without": 0.020}
    worse = S.Estimate(0.01, 0.008, 0.012, 128)  # validation error with adv. - without
    r = _row("R9.3-generalise", -0.005, -0.008, -0.002, 0.0, "below",
             parts=[("below", 0.0, worse)], **facts)  # fmt: skip
    assert r["verdict"] == S.FAILS
    assert "fitting the training images worse" in reasons.why(r)
    facts.update({"val with": 0.015})
    r = _row("R9.3-generalise", 0.001, -0.002, 0.004, 0.0, "below", **facts)
    assert "fitting the training images worse" not in reasons.why(r)


def test_blur_reason_reads_sharpness_and_the_faces_measurements():
    m = _measures().set_axis(["human", "Simpson"])
    r = _row("R9.4-blur", 1.13, 1.06, 1.19, 1.0, "shows_below", "face2simpson", [S.HOLDS],
             **{"Simpson -> human": 1.13, "human -> Simpson": 0.97})  # fmt: skip
    assert r["verdict"] == S.UNDECIDED
    text = reasons.why(r, m)
    assert "1.13 as sharp as real faces'" in text and "blotchy rather than blurry" in text
    assert "fine-band texture energy is 2.10 against the Simpsons' 10.90" in text
    both = _row("R9.4-blur", 0.92, 0.89, 0.95, 1.0, "shows_below", "face2simpson", [S.HOLDS],
                parts=[("shows_above", 0.0, S.Estimate(-0.09, -0.1, -0.08, 128))],
                **{"Simpson -> human": 0.92, "human -> Simpson": 0.83})  # fmt: skip
    assert both["verdict"] == S.UNDECIDED  # blurrier, but so is the other direction
    text = reasons.why(both, m)
    assert "at least as blurry as Simpson -> human" in text and "blotchy" not in text
    unsound = _row("R9.4-blur", 0.9, 0.8, 0.95, 1.0, "shows_below", "face2simpson",
                   [S.UNDECIDED], **{"Simpson -> human": 0.9, "human -> Simpson": 1.0})  # fmt: skip
    assert "does not read blur as blur" in reasons.why(unsound, m)


def test_every_report_check_has_a_mechanism():
    from cg.report.findings.table import REPORT_CHECKS

    assert REPORT_CHECKS <= set(reasons.EXPLAIN)
