"""R9 findings: the verdict logic on hand-made histories, the image statistics on known
images, and the whole table on real tiny runs."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from cg.config import make_config
from cg.report import experiments, findings


def _run(dataset: str, name: str, **columns: list[float]) -> experiments.Run:
    n = len(next(iter(columns.values())))
    history = pd.DataFrame({"epoch": list(range(1, n + 1)), **columns})
    cfg = make_config(dataset, adversarial=name != "noadv")
    return experiments.Run(name, dataset, Path("unused"), cfg, history, None)


def _paired(dataset: str, noadv: dict, adv: dict) -> pd.DataFrame:
    return findings.paired(_run(dataset, "noadv", **noadv), _run(dataset, "adv", **adv))


@pytest.fixture
def fixed_detail(monkeypatch):
    """Replace the image statistic (tested on images below) by given values per run."""
    values: dict[tuple[str, str], float] = {}
    monkeypatch.setattr(findings, "detail_ratio", lambda run, d: values[(run.name, d)])
    return values


def test_detail_is_zero_for_flat_images_and_two_for_a_checkerboard():
    assert findings.detail(torch.zeros(2, 3, 8, 8)) == 0.0
    i, j = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    board = ((i + j) % 2 * 2 - 1).float().expand(1, 3, 8, 8)  # -1 / +1 alternating
    assert findings.detail(board) == pytest.approx(2.0)
    blurred = torch.nn.functional.avg_pool2d(board, 3, stride=1, padding=1)
    assert findings.detail(blurred) < findings.detail(board)


def test_cityscapes_segmentation_and_photo_verdicts(fixed_detail):
    fixed_detail.update({("noadv", "ba"): 0.4, ("adv", "ba"): 0.9})
    table = _paired(
        "cityscapes",
        noadv={"pixel_error_ab_val": [0.2, 0.1], "pixel_error_ba_val": [0.30, 0.20]},
        adv={"pixel_error_ab_val": [0.3, 0.2], "pixel_error_ba_val": [0.30, 0.21]},
    )
    assert list(table.columns) == list(findings.COLUMNS)
    assert table["verdict"].tolist() == ["holds", "holds", "holds"]
    assert table["finding"][0].startswith("R9.1 segmentation")
    assert "last 0.1000 vs 0.2000" in table["numbers"][0]
    assert "difference 4.8%" in table["numbers"][1]
    fixed_detail.update({("noadv", "ba"): 0.9, ("adv", "ba"): 0.4})
    table = _paired(
        "cityscapes",
        noadv={"pixel_error_ab_val": [0.2, 0.3], "pixel_error_ba_val": [0.30, 0.10]},
        adv={"pixel_error_ab_val": [0.3, 0.2], "pixel_error_ba_val": [0.30, 0.20]},
    )
    assert table["verdict"].tolist() == ["does not hold"] * 3


def test_edges2shoes_uses_the_edge_direction_and_checks_overfitting(fixed_detail):
    fixed_detail.update({("noadv", "ab"): 0.5, ("adv", "ab"): 0.6})
    table = _paired(
        "edges2shoes",
        noadv={
            "pixel_error_ba_val": [0.10, 0.05, 0.07, 0.09],  # edges: best at epoch 2
            "pixel_error_ab_val": [0.30, 0.20, 0.22, 0.25],
            "pixel_error_ba_train": [0.10, 0.04, 0.03, 0.02],
            "pixel_error_ab_train": [0.30, 0.15, 0.10, 0.08],
        },
        adv={
            "pixel_error_ba_val": [0.12, 0.09, 0.07, 0.06],
            "pixel_error_ab_val": [0.30, 0.25, 0.21, 0.19],
            "pixel_error_ba_train": [0.12, 0.09, 0.07, 0.05],
            "pixel_error_ab_train": [0.30, 0.25, 0.20, 0.18],
        },
    )
    assert table["finding"][0].startswith("R9.1 edge extraction")
    assert table["verdict"][0] == "does not hold"  # 0.09 > 0.06 at the last epoch
    overfit, general = table.iloc[3], table.iloc[4]
    assert overfit["finding"].startswith("R9.3") and overfit["verdict"] == "holds"
    assert "best 0.1250 at epoch 2, last 0.1700 (+36.0%)" in overfit["numbers"]
    assert general["verdict"] == "holds"  # gaps 0.01 (adv) vs 0.12
    assert "gap with adv. 0.0100, without adv. 0.1200" in general["numbers"]
    flat = {
        "pixel_error_ba_val": [0.10, 0.08, 0.06, 0.05],
        "pixel_error_ab_val": [0.30, 0.20, 0.15, 0.10],
        "pixel_error_ba_train": [0.10, 0.08, 0.06, 0.05],
        "pixel_error_ab_train": [0.30, 0.20, 0.15, 0.10],
    }
    table = _paired("edges2shoes", noadv=flat, adv=flat)
    assert table.iloc[3]["verdict"] == "does not hold"  # still improving: no overfitting
    assert table.iloc[4]["verdict"] == "does not hold"  # equal gaps, not better


def test_unpaired_verdicts(fixed_detail):
    fixed_detail.update({("adv", "ab"): 0.8, ("adv", "ba"): 0.3})
    run = _run("face2simpson", "adv", feedback_ab_val=[0.4, 0.6], feedback_ba_val=[0.5, 0.2])
    table = findings.unpaired(run)
    assert table["verdict"].tolist() == ["holds", "holds"]
    assert "human -> Simpson 0.600, Simpson -> human 0.200" in table["numbers"][1]
    fixed_detail.update({("adv", "ab"): 0.3, ("adv", "ba"): 0.8})
    run = _run("face2simpson", "adv", feedback_ab_val=[0.4, 0.1], feedback_ba_val=[0.5, 0.2])
    assert findings.unpaired(run)["verdict"].tolist() == ["does not hold"] * 2


def test_collapse_verdict(monkeypatch):
    monkeypatch.setattr(findings, "data_distance", lambda run: 0.2)
    run = _run(
        "cityscapes", "cycle_only", identity_ab_val=[0.15, 0.05], identity_ba_val=[0.2, 0.08]
    )
    row = findings.collapse(run)
    assert row["verdict"] == "holds" and "data |A - B| 0.2000" in row["numbers"]
    run = _run(
        "cityscapes", "cycle_only", identity_ab_val=[0.15, 0.05], identity_ba_val=[0.2, 0.15]
    )
    assert findings.collapse(run)["verdict"] == "does not hold"


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Real runs on the built-in cityscapes data: 32 px, 4 base channels, 2 epochs."""
    root = tmp_path_factory.mktemp("findings")
    data = experiments.dataset(
        "cityscapes", cache_dir=root / "cache", image_size=32, n_train=8, n_val=4
    )
    settings = dict(
        image_size=32, base_channels=4, epochs=2, batch_size=4, device="cpu", progress=False
    )
    return {
        name: experiments.experiment("cityscapes", data, root / "runs", name, **settings)
        for name in ("noadv", "adv", "cycle_only")
    }


def test_findings_on_real_runs(tiny_runs):
    table = findings.paired(tiny_runs["noadv"], tiny_runs["adv"], tiny_runs["cycle_only"])
    assert table["finding"].str[:6].tolist() == ["R9.1 s", "R9.2 c", "R9.2 c", "R9.5 t"]
    assert set(table["verdict"]) <= {"holds", "does not hold"}
    last = tiny_runs["noadv"].history["pixel_error_ab_val"].iloc[-1]
    assert f"last {last:.4f}" in table["numbers"][0]
    ratio = findings.detail_ratio(tiny_runs["adv"], "ba")
    assert math.isfinite(ratio) and ratio > 0
    dist = findings.data_distance(tiny_runs["cycle_only"])
    assert 0 < dist < 1 and f"data |A - B| {dist:.4f}" in table["numbers"][3]
