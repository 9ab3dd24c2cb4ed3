"""The report notebooks: their shape (one parameters cell, no logic, clean committed outputs),
the profiles, and the whole report run under papermill with the smoke profile."""

from __future__ import annotations

import ast
import json
import math
import os
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from PIL import Image

from cg.cli import main
from cg.errors import UserError
from cg.report import notebooks as report
from cg.report.findings import rules as R
from cg.report.findings import stats as S
from cg.report.findings import table
from cg.report.page.captions import FIGURES
from cg.report.runs import profiles

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
MINE = ("architecture", "cityscapes", "edges2shoes", "face2simpson")


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(str(NOTEBOOKS / f"{name}.ipynb"), as_version=4)


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


@pytest.mark.parametrize("name", MINE)
def test_notebook_has_one_commented_parameters_cell_and_no_logic(name):
    nb = _read(name)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    params = [c for c in nb.cells if "parameters" in _tags(c)]
    assert len(params) == 1
    lines = params[0].source.splitlines()
    assigned = [i for i, ln in enumerate(lines) if "=" in ln and not ln.startswith("#")]
    assert assigned
    for i in assigned:  # a comment on the line or just above it
        assert "#" in lines[i] or lines[i - 1].startswith("#"), lines[i]
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(
                node,
                (ast.FunctionDef, ast.ClassDef, ast.Lambda, ast.For, ast.While, ast.comprehension),
            ), cell.source


@pytest.mark.parametrize("name", MINE)
def test_committed_outputs_are_only_checked_cells_and_machine_free(name):
    nb = _read(name)
    checked = [c for c in nb.cells if "nbval-check-output" in _tags(c)]
    assert checked
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "nbval-check-output" in _tags(cell):
            assert cell.outputs, "checked cells carry their expected output"
        else:
            assert not cell.outputs
    text = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert not re.search(r"/(work|home|tmp|root|Users)/", text)


def test_profiles_load_and_only_name_declared_parameters():
    import papermill as pm

    declared = {n: set(pm.inspect_notebook(str(NOTEBOOKS / f"{n}.ipynb"))) for n in MINE}
    everything = set().union(*declared.values())
    for profile in profiles.PROFILES:
        params = profiles.load_profile(profile, REPO)
        for name in MINE:
            assert set(params[name]) <= everything, (profile, set(params[name]) - everything)
            for key in ("runs_dir", "figures_dir", "cache_dir"):
                if key in params[name]:
                    assert Path(params[name][key]).is_absolute()
    assert profiles.load_profile("default", REPO)["cityscapes"]["figures_dir"] == str(
        REPO / "figures"
    )
    assert profiles.load_profile("smoke", REPO)["cityscapes"]["figures_dir"] != str(
        REPO / "figures"
    )


def test_profile_and_data_root_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        profiles.load_profile("nope", REPO)
    bad = tmp_path / "bad.yaml"
    bad.write_text("notebooks:\n  nosuch: {epochs: 1}\n")
    with pytest.raises(UserError, match="unknown notebook"):
        profiles.load_profile(str(bad), REPO)
    (tmp_path / "ds" / "train").mkdir(parents=True)
    with pytest.raises(UserError, match="is itself a dataset"):
        profiles.data_roots(tmp_path / "ds", None)
    with pytest.raises(UserError, match="holds none of"):
        profiles.data_roots(tmp_path, None)
    with pytest.raises(UserError, match="unknown dataset"):
        profiles.data_roots(None, {"horses": str(tmp_path)})
    (tmp_path / "edges2shoes").mkdir()
    assert profiles.data_roots(tmp_path, None) == {"edges2shoes": str(tmp_path / "edges2shoes")}


def test_cli_report_errors_are_one_line(tmp_path, capsys):
    assert main(["report", "--profile", "nope", "--root", str(REPO)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: profile") and err.count("\n") == 1
    assert main(["report", "-p", "epochs", "--root", str(REPO)]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The whole report with the smoke profile, everything written under a temporary folder."""
    tmp = tmp_path_factory.mktemp("report")
    dirs = {k: str(tmp / k) for k in ("cache_dir", "runs_dir", "figures_dir")}
    html = report.report(
        "smoke", root=REPO, overrides=dirs, out_dir=tmp / "reports", progress=False
    )
    return tmp, html


def test_smoke_report_writes_every_figure(smoke):
    tmp, _ = smoke
    for fig in FIGURES:
        path = tmp / "figures_dir" / fig.file
        assert path.is_file(), fig.file
        with Image.open(path) as im:
            assert im.format == "PNG" and min(im.size) >= 32


def test_smoke_report_records_finite_metrics(smoke):
    tmp, _ = smoke
    runs = sorted((tmp / "runs_dir").iterdir())
    seeds = profiles.load_profile("smoke", REPO)["cityscapes"]["n_seeds"]
    # every experiment for each seed, the classic-identity ablation included
    assert [r.name.rsplit("-", 1)[0] for r in runs] == [
        name
        for name in (
            "cityscapes-adv",
            "cityscapes-cycle_classic",
            "cityscapes-cycle_only",
            "cityscapes-noadv",
            "edges2shoes-adv",
            "edges2shoes-noadv",
            "face2simpson-adv",
        )
        for _ in range(seeds)
    ]
    for run in runs:
        history = pd.read_csv(run / "history.csv")
        assert len(history) == 2
        adversarial = not run.name.split("-")[1].startswith(("noadv", "cycle"))
        paired = not run.name.startswith("face2simpson")
        expected = ["loss_g", "loss_cycle", "identity_ab_val", "identity_ba_val"]
        expected += ["pixel_error_ab_val", "pixel_error_ba_val"] if paired else []
        expected += ["feedback_ab_val", "feedback_ba_train", "loss_d"] if adversarial else []
        for col in expected:
            assert history[col].notna().all(), (run.name, col)
        for col in history.columns:
            values = pd.to_numeric(history[col], errors="coerce").dropna()
            assert all(math.isfinite(v) for v in values), (run.name, col)


def test_smoke_report_html_has_captions_tables_and_no_code(smoke):
    tmp, html = smoke
    text = html.read_text(encoding="utf-8")
    positions = [text.find(f"<b>{fig.label}.</b>") for fig in FIGURES[:20]]
    assert all(p > 0 for p in positions) and positions == sorted(positions)
    assert text.count("data:image/png;base64,") >= len(FIGURES)
    verdicts = re.findall(r"<td>(holds|does not hold|undecided)</td>", text)
    assert len(verdicts) >= 11, verdicts  # every R9 check of the three findings tables
    summary = re.search(r"<h2[^>]*>Summary", text).start()
    assert 0 < summary < text.find("Figure 1:"), "the summary comes before the sections"
    # the report's eleven checks counted apart from the further ones (R9.1-seg, R9.5-identity)
    assert re.search(r"11 checks of the report's findings \(R9\): \d+ hold", text)
    assert re.search(r"; \d+ further checks: \d+ hold", text)
    assert (
        text.count("<strong>holds</strong>")
        + text.count("<strong>does not hold</strong>")
        + text.count("<strong>undecided</strong>")
        >= 11
    )
    appendix = re.search(r"<h2[^>]*>Appendix", text).start()
    assert appendix > text.find("<b>Figure 20.</b>") > 0  # settings, logs at the end
    assert "Training log: cityscapes" in text and "<details>" in text
    assert "finished.experiment(" not in text and "Traceback" not in text
    assert "6.55" in text  # the survey section (R8)
    for name in profiles.NOTEBOOKS:
        nb = nbformat.read(str(tmp / "reports" / f"{name}.ipynb"), as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, name


REQUIRED = {
    ("R9.1", "cityscapes"), ("R9.1", "edges2shoes"), ("R9.2-equal", "cityscapes"),
    ("R9.2-equal", "edges2shoes"), ("R9.2-detail", "cityscapes"), ("R9.2-detail", "edges2shoes"),
    ("R9.3-overfit", "edges2shoes"), ("R9.3-generalise", "edges2shoes"),
    ("R9.4-blur", "face2simpson"), ("R9.4-better", "face2simpson"), ("R9.5", "cityscapes"),
}  # fmt: skip


def test_smoke_report_writes_findings_csv(smoke):
    tmp, _ = smoke
    rows = table.read_csv(tmp / "reports" / "findings.csv")
    assert list(rows[0]) == list(table.COLUMNS)
    assert REQUIRED <= {(r["id"], r["dataset"]) for r in rows}
    seeds = profiles.load_profile("smoke", REPO)["cityscapes"]["n_seeds"]
    for r in rows:
        assert r["verdict"] in ("holds", "does not hold", "undecided"), r
        assert r["claim"] and r["numbers"], r
        per_seed = [float(v) for v in r["per_seed"].split(";")]
        assert int(r["seeds"]) == len(per_seed) == seeds, r  # the classic ablation's too
        assert r["rules"] == R.VERSION and r["verdict_raw"] in (S.HOLDS, S.FAILS, S.UNDECIDED)
        if r["verdict"] != S.UNDECIDED:  # a family-wise verdict is the check's own
            assert r["verdict"] == r["verdict_raw"] and float(r["p"]) < 0.025, r
        if all(math.isfinite(v) for v in per_seed):
            ratio = R.RULES[r["id"]].parts[0].ratio  # shown as the geometric mean
            mean = (
                math.exp(sum(map(math.log, per_seed)) / seeds) if ratio else sum(per_seed) / seeds
            )
            assert float(r["value"]) == pytest.approx(mean), r
        else:  # at 32 px a seed's images may have no flat input pixels (R9.2-detail), or a
            # seed's tiny outputs no edge strong enough for edge sharpness (R9.4-blur)
            assert r["id"] in ("R9.2-detail", "R9.4-blur") and r["verdict"] == "undecided", r


def test_report_outputs_follow_the_umask(tmp_path):
    """Everything cg report writes is readable by others under umask 022 (not mkstemp's 0600)."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        report.build_html([], tmp_path / "r" / "report.html", title="t")
        table.write_csv([], tmp_path / "r" / "findings.csv")
    finally:
        os.umask(old)
    for name in ("report.html", "findings.csv"):
        assert stat.S_IMODE((tmp_path / "r" / name).stat().st_mode) == 0o644, name


@pytest.mark.parametrize("profile", ["long", "gpu"])
def test_bigger_profiles_run_at_smoke_size(profile, tmp_path):
    """The long and gpu profiles, their sizes shrunk to the smoke profile's, run the dataset
    notebooks through to findings.csv on the CPU."""
    smoke = profiles.load_profile("smoke", REPO)["cityscapes"]
    args = [
        "report",
        "--profile",
        profile,
        "--root",
        str(REPO),
        "--only",
        "edges2shoes",
        "--out",
        str(tmp_path / "reports"),
        "--no-progress",
    ]
    for key in ("image_size", "base_channels", "epochs", "batch_size", "n_train", "n_val"):
        args += ["-p", f"{key}={smoke[key]}"]
    for key in ("cache_dir", "runs_dir", "figures_dir"):
        args += ["-p", f"{key}={tmp_path / key}"]
    args += ["-p", "device=cpu"]
    assert main(args) == 0
    rows = table.read_csv(tmp_path / "reports" / "findings.csv")
    assert {r["id"] for r in rows} >= {"R9.1", "R9.3-overfit"}
    loaded = profiles.load_profile(profile, REPO)["edges2shoes"]
    assert loaded["n_val"] >= 64 and loaded["epochs"] > smoke["epochs"]


def test_report_runs_the_same_notebook_on_a_user_folder(smoke, tmp_path):
    """--data-root: the cityscapes notebook, unchanged, on a pix2pix folder of 48 px pairs."""
    from cg.data import synthesize

    synthesize("cityscapes", tmp_path / "data" / "cityscapes", size=48, n_train=6, n_val=3)
    tmp, _ = smoke
    args = [
        "report",
        "--profile",
        "smoke",
        "--root",
        str(REPO),
        "--only",
        "cityscapes",
        "--data-root",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "reports"),
        "--no-progress",
        "-p",
        "n_train=0",
        "-p",
        "n_val=0",
    ]
    for key in ("runs_dir", "figures_dir"):
        args += ["-p", f"{key}={tmp_path / key}"]
    assert main(args) == 0
    nb = nbformat.read(str(tmp_path / "reports" / "cityscapes.ipynb"), as_version=4)
    shown = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "folder cityscapes" in shown and "training pairs" in shown
    assert (tmp_path / "figures_dir" / "fig09_cityscapes_city_adv.png").is_file()
    assert (tmp_path / "reports" / "report.html").is_file()


def test_check_kernel_accepts_this_python_and_refuses_another(monkeypatch):
    import sys

    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    report.check_kernel()  # the kernel `make install` registers runs this Python

    def spec(argv0):
        return lambda self, name: KernelSpec(argv=[argv0, "-m", "ipykernel_launcher"])

    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", spec(sys.executable))
    report.check_kernel()
    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", spec("python"))
    report.check_kernel()  # a bare name: jupyter_client runs sys.executable
    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", spec("/opt/other/bin/python3"))
    with pytest.raises(UserError, match="ipykernel install --sys-prefix"):
        report.check_kernel()


def test_build_html_hides_code_parameters_and_progress(tmp_path):
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    params = new_code_cell("secret_parameter = 1", metadata={"tags": ["parameters"]})
    work = new_code_cell(
        "print('table'); hidden_source_line()",
        outputs=[
            new_output("stream", name="stdout", text="a printed table\n"),
            new_output("stream", name="stderr", text="epoch 1/2: 50%|#####\n"),
            new_output("display_data", data={"text/html": "<b>Figure 9.</b> caption"}),
        ],
    )
    quiet = new_code_cell("x = 1")
    nb = new_notebook(cells=[new_markdown_cell("# A section"), params, work, quiet])
    path = tmp_path / "one.ipynb"
    nbformat.write(nb, str(path))
    html = report.build_html([path, path], tmp_path / "out" / "r.html", title="T", intro="I")
    text = html.read_text(encoding="utf-8")
    assert text.count("A section") == 2 and text.count("<b>Figure 9.</b> caption") == 2
    assert "a printed table" in text
    for hidden in ("secret_parameter", "hidden_source_line", "epoch 1/2"):
        assert hidden not in text


def test_smoke_report_profiles_its_build(smoke, capsys):
    """profile.csv accounts for the build: each run's parts add up to no more than its time in
    its worker, every notebook's cells to its wall time, and the stages to the total."""
    from cg.report import timing

    tmp, _ = smoke
    frame = timing.read(tmp / "reports" / "profile.csv")
    assert set(frame.stage) == {"plan", "grid", "notebooks", "page", "total"}
    runs = frame[(frame.stage == "grid") & (frame.item != "(grid)")]
    assert set(runs.part) == {"steps", "evaluation", "samples", "checkpoint", "other"}
    assert len(set(runs.item)) == len(list((tmp / "runs_dir").iterdir()))
    assert (runs.groupby("item").seconds.sum() > 0).all() and (runs.seconds >= 0).all()
    steps = runs[runs.part == "steps"].seconds.sum()
    assert steps > runs[runs.part == "samples"].seconds.sum()
    wall = frame[frame.part == "wall"].seconds.item()
    idle = frame[frame.part == "idle"].seconds.item()
    workers = (runs.seconds.sum() + idle) / wall  # the processes that trained, over the wall
    assert abs(workers - round(workers)) < 0.05 and 1 <= round(workers) <= (os.cpu_count() or 1)
    total = frame[frame.part == "total"].seconds.item()
    stages = frame[frame.stage.isin(["plan", "notebooks", "page"])].seconds.sum() + wall
    assert stages <= total + 0.01 and stages >= 0.9 * total
    names = {i.split(":")[0] for i in frame[frame.stage == "notebooks"].item}
    assert names == set(profiles.NOTEBOOKS)
    assert timing.main([str(tmp / "reports" / "profile.csv")]) == 0
    out = capsys.readouterr().out
    assert "| grid (wall) |" in out and "runs: steps (worker-s)" in out
