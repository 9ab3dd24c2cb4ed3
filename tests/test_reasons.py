"""Why a check does not show: sentences made from the check's numbers and the data's
measurements (:mod:`cg.report.findings.reasons`)."""

from __future__ import annotations

import pandas as pd

from cg.report.findings import reasons
from cg.report.findings import stats as S
from cg.report.findings.table import over_seeds, row


def _row(id_, values, dataset="edges2shoes", parts=(), gate=None, **facts):
    """Check ``id_`` decided over the seeds of ``values`` (its headline statistic per seed),
    each further part's values in ``parts``, each fact a value per seed (or one for all)."""
    rows = []
    for i, v in enumerate(values):
        e = S.Estimate(v, v * 0.99, v * 1.01, 128)
        seed_facts = {k: (f[i] if isinstance(f, list) else f) for k, f in facts.items()}
        rows.append(
            row(
                id_,
                dataset,
                "claim",
                "test",
                e,
                "numbers",
                parts=[p[i] for p in parts],
                gate=gate,
                facts=seed_facts,
            )  # fmt: skip
        )
    return over_seeds(rows, list(range(len(values))))


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
    held = _row("R9.1", [-0.01, -0.011, -0.012, -0.01, -0.009], without=0.01, **{"with": 0.02})
    failed = _row("R9.2-equal", [1.4, 1.45, 1.5, 1.42, 1.38], without=0.02, **{"with": 0.03})
    assert held["verdict"] == S.HOLDS and reasons.why(held) == ""
    assert failed["verdict"] == S.FAILS
    t = reasons.table([held, failed], _measures())
    assert list(t.index) == ["R9.2-equal"] and t.loc["R9.2-equal", "verdict"] == S.FAILS


def test_pixel_error_reason_gives_the_errors_and_what_the_input_leaves_open():
    r = _row("R9.2-equal", [1.45] * 3, without=0.0205, **{"with": 0.0297})
    text = reasons.why(r, _measures())
    assert "0.0297 against 0.0205" in text and "1.45 times it" in text
    # edges2shoes makes shoe photos (A -> B): the shoe's row, B
    assert "Given the edge map, 25% of the shoe photo's variance is left open" in text
    assert "Given the" not in reasons.why(r)  # no measurement, no clause


def test_overfit_reason_names_the_minimum_per_seed_over_the_seeds():
    level = _row("R9.3-overfit", [0.98, 1.0, 0.99], minimum=[15, 16, 12], **{"last epoch": 16},
                 rise=[0.98, 1.0, 0.99])  # fmt: skip
    assert level["_facts"]["minimum"] == [15.0, 16.0, 12.0]
    text = reasons.why(level)
    assert "lowest at epoch 15, 16, 12 of 16" in text and "on 3 of 3 seeds" in text
    assert "levels off or still falls" in text
    rising = _row("R9.3-overfit", [1.1, 0.98, 1.05], minimum=[58, 60, 40], rise=[1.1, 0.98, 1.05],
                  **{"last epoch": 64})  # fmt: skip
    assert "a rise the seeds do not put clearly above it" in reasons.why(rising)


def test_generalise_reason_tells_a_worse_fit_from_a_smaller_gap():
    facts = {"gap with": 0.004, "gap without": 0.009, "val with": 0.030, "val without": 0.020}
    r = _row("R9.3-generalise", [-0.005, -0.006, -0.004], parts=[[0.01, 0.011, 0.012]], **facts)
    assert r["verdict"] == S.FAILS
    assert "fitting the training images worse" in reasons.why(r)
    facts.update({"val with": 0.015})
    r = _row("R9.3-generalise", [0.001, -0.002, 0.002], parts=[[-0.001, 0.0, 0.001]], **facts)
    assert "fitting the training images worse" not in reasons.why(r)


def test_blur_reason_reads_sharpness_and_the_faces_measurements():
    m = _measures().set_axis(["human", "Simpson"])
    sharp = _row("R9.4-blur", [1.13, 1.1, 1.15], "face2simpson", parts=[[0.97] * 3],
                 gate=S.HOLDS, **{"Simpson -> human": 1.13, "human -> Simpson": 0.97})  # fmt: skip
    assert sharp["verdict"] == S.FAILS  # the faces are not blurry
    text = reasons.why(sharp, m)
    assert "1.13 as sharp as real faces'" in text and "do not come out blurry" in text
    assert "fine-band texture energy is 2.10 against the Simpsons' 10.90" in text
    both = _row("R9.4-blur", [0.8, 0.82, 0.78], "face2simpson", parts=[[0.7, 0.72, 0.69]],
                gate=S.HOLDS, **{"Simpson -> human": 0.8, "human -> Simpson": 0.7})  # fmt: skip
    assert both["verdict"] == S.FAILS  # blurry, but so is the other direction
    text = reasons.why(both, m)
    assert "at least as blurry as Simpson -> human" in text
    facts = {"Simpson -> human": 0.6, "human -> Simpson": 1.0}
    unsound = _row("R9.4-blur", [0.6, 0.62, 0.58], "face2simpson", parts=[[1.0] * 3],
                   gate=S.UNDECIDED, **facts)  # fmt: skip
    assert unsound["verdict"] == S.UNDECIDED  # the gate failed: whatever the values say
    assert "does not read blur as blur" in reasons.why(unsound, m)


def test_every_report_check_has_a_mechanism():
    from cg.report.findings.rules import REPORT_CHECKS

    assert REPORT_CHECKS <= set(reasons.EXPLAIN)
