"""Figures: sample grids, curves, the architecture diagrams traced from the models, captions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from cg import images
from cg.config import make_config
from cg.models import UNet
from cg.report.page import architecture, captions, figures, plots


def test_to_uint8_maps_range_and_clamps():
    x = torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0])
    assert images.to_uint8(x).tolist() == [0, 0, 128, 255, 255]


def test_sample_grid_puts_output_left_and_source_right():
    out = torch.full((2, 3, 4, 4), -1.0)  # black
    src = torch.full((2, 3, 4, 4), 1.0)  # white
    grid = images.sample_grid(out, src, padding=0)
    assert grid.shape == (3, 8, 8) and grid.dtype == torch.uint8
    assert (grid[:, :, :4] == 0).all() and (grid[:, :, 4:] == 255).all()
    with pytest.raises(ValueError):
        images.sample_grid(out, src[:1])


def test_stack_grids_puts_a_white_gap_between_and_pads_width():
    top = torch.zeros(3, 4, 6, dtype=torch.uint8)
    bottom = torch.zeros(3, 2, 4, dtype=torch.uint8)
    stacked = images.stack_grids(top, torch.zeros(3, 0, 6, dtype=torch.uint8), bottom, gap=3)
    assert stacked.shape == (3, 4 + 3 + 2, 6)
    assert (stacked[:, 4:7] == 255).all()  # the gap
    assert (stacked[:, 7:, 4:] == 255).all() and (stacked[:, 7:, :4] == 0).all()
    with pytest.raises(ValueError):
        images.stack_grids(torch.zeros(3, 0, 2, dtype=torch.uint8))


def test_save_image_round_trips(tmp_path):
    img = torch.randint(0, 256, (3, 5, 7), dtype=torch.uint8)
    path = images.save_image(img, tmp_path / "a" / "x.png")
    back = np.array(Image.open(path))
    assert back.shape == (5, 7, 3)
    assert (torch.from_numpy(back).permute(2, 0, 1) == img).all()


def _history() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "pixel_error_ab_val": [0.3, 0.2, 0.1],
            "pixel_error_ba_val": [0.5, float("nan"), 0.4],
            "feedback_ab_val": [float("nan")] * 3,
        }
    )


def test_long_format_drops_missing_values_and_columns():
    data = plots.long_format(
        _history(),
        {"ab": "pixel_error_ab_val", "ba": "pixel_error_ba_val", "gone": "no_such_column"},
    )
    assert list(data.columns) == ["epoch", "series", "value"]
    assert data.groupby("series").size().to_dict() == {"ab": 3, "ba": 2}


def test_curves_draws_one_panel_per_group_and_saves(tmp_path):
    fig = plots.curves(
        _history(),
        {
            "left": {"ab": "pixel_error_ab_val"},
            "right": {"ab": "pixel_error_ab_val", "ba": "pixel_error_ba_val"},
            "empty": {"fb": "feedback_ab_val"},
        },
        ylabel="pixel error",
        ylim=(0, 1),
    )
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["left", "right", "empty"]
    assert len(axes[0].get_lines()) >= 1
    ys = sorted(float(y) for line in axes[1].get_lines() for y in line.get_ydata())
    assert ys == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert axes[2].texts[0].get_text() == "no values recorded"
    assert axes[0].get_ylim() == (0, 1)
    path = plots.save_figure(fig, tmp_path / "c.png")
    assert Image.open(path).format == "PNG"


def test_trace_finds_the_unet_skip_connections():
    model = UNet(3, 3, base_channels=4)
    blocks = architecture.trace(model, torch.zeros(1, 3, 32, 32), list(model.named_children()))
    names = [b.name for b in blocks]
    assert names == ["inc", "down1", "down2", "down3", "down4", "up1", "up2", "up3", "up4", "outc"]
    by = {b.name: b for b in blocks}
    assert by["inc"].inputs == [-1]
    assert by["up1"].inputs == [names.index("down4"), names.index("down3")]
    assert by["up4"].inputs == [names.index("up3"), names.index("inc")]
    assert by["down4"].shape == (32, 2, 2) and by["outc"].shape == (3, 32, 32)
    assert sum(b.params for b in blocks) == sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_the_report_networks():
    table = architecture.parameter_counts(make_config(base_channels=64))
    assert table["parameters"].tolist() == ["17,263,107", "31,037,763", "2,765,633"]


def test_patchgan_receptive_field_is_70():
    from cg.models import PatchDiscriminator

    assert architecture.receptive_field(PatchDiscriminator(3, 8, n_layers=3)) == 70
    assert architecture.receptive_field(PatchDiscriminator(3, 8, n_layers=1)) == 16


def test_architecture_figures_draw_every_block(tmp_path):
    cfg = make_config(image_size=32, base_channels=4, disc_channels=4)
    fig1 = architecture.unet_figure(cfg)
    text = " ".join(t.get_text() for t in fig1.get_axes()[0].texts)
    for name in ("inc", "down4", "up1", "outc", "4×32×32", "32×2×2"):
        assert name in text
    fig2 = architecture.patchgan_figure(cfg)
    title = fig2.get_axes()[0].get_title()
    assert "70×70" in title
    assert "conv 4×4/2 → 4" in " ".join(t.get_text() for t in fig2.get_axes()[0].texts)
    with pytest.raises(ValueError):
        architecture.unet_figure(make_config(generator="resnet_9"))


def test_figure_table_covers_the_report():
    keys = [f.key for f in captions.FIGURES]
    assert keys == [str(i) for i in range(1, 21)] + ["A1", "A2", "A3", "A4"]
    files = [f.file for f in captions.FIGURES]
    assert len(set(files)) == len(files)
    for f in captions.FIGURES[:20]:
        assert f.file.startswith(f"fig{int(f.key):02d}_") and f.file.endswith(".png")
        assert f.caption and f.notebook in (
            "architecture",
            "cityscapes",
            "edges2shoes",
            "face2simpson",
        )
    for f in captions.FIGURES[21:]:  # the findings per seed, one figure per dataset
        assert f.file == f"fig{f.key}_{f.notebook}_findings_by_seed.png"
    assert captions.spec(3) is captions.spec("3")
    with pytest.raises(KeyError):
        captions.spec(21)


def test_publish_saves_under_the_fixed_name_and_shows_the_caption(tmp_path):
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    shown = figures.publish(3, fig, tmp_path)
    path = tmp_path / "fig03_cityscapes_pixel_error_noadv.png"
    assert path.is_file() and shown.png == path.read_bytes()
    html = shown._repr_html_()
    assert "data:image/png;base64," in html and "<b>Figure 3.</b>" in html
    assert "city reconstruction and segmentation" in html
    grid = torch.zeros(3, 4, 4, dtype=torch.uint8)
    shown = figures.publish("A1", grid, tmp_path)
    assert (tmp_path / captions.spec("A1").file).is_file()
    assert "Figure A1 (added)" in shown._repr_html_()
    assert repr(shown) == "Figure A1 (added): figA1_cityscapes_cycle_only_collapse.png"


def test_findings_by_seed_figure_draws_each_check_s_seeds_and_line():
    from cg.report.findings import stats as S
    from cg.report.findings import table
    from cg.report.page import figures

    def seed_row(v):
        return table.row("R9.2-equal", "d", "c", "t", S.Estimate(v, v * 0.99, v * 1.01, 8), "n")

    row = table.over_seeds([seed_row(v) for v in (1.05, 1.08, 0.98)], [0, 1, 2])
    fig = figures.findings_figure([row], "cityscapes")
    (ax,) = fig.axes
    assert ax.get_title() == f"R9.2-equal: {row['verdict']}"
    dots = ax.collections[0].get_offsets()
    assert list(dots[:, 1]) == pytest.approx([1.05, 1.08, 0.98])
    lines = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--")
    assert lines == pytest.approx([1 / 1.15, 1.15])  # the equivalence band of a ratio
    assert ax.get_yscale() == "log"  # a ratio, tested as its log
