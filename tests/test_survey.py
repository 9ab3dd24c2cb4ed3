"""The survey's tables (R8) and `cg survey build`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cg.cli import main
from cg.errors import UserError
from cg.survey import load_responses, rater_table, summary_table
from cg.survey.table import bootstrap_ci, comments_table, format_report, parse_responses

REPO = Path(__file__).resolve().parents[1]
RESPONSES = REPO / "survey" / "responses.csv"
HEADER = "survey,rater,mark,comment\n"


# --- R8's data ------------------------------------------------------------------------------


def test_responses_file_holds_the_reports_survey_exactly():
    df = load_responses(RESPONSES)
    assert list(df.columns) == ["survey", "rater", "mark", "comment"]
    table = rater_table(df)
    assert list(table.columns) == ["human2simpson", "simpson2human"]
    assert list(table.index) == ["den", "alyona", "akhmad", "irina", "denza"]
    assert table["human2simpson"].tolist() == [6, 7, 8, 6.75, 5]
    assert table["simpson2human"].tolist() == [4, 4, 2, 2.5, 4]
    comments = comments_table(df)
    assert comments.values.tolist() == [
        ["human2simpson", "den", "качественная глазуня норм, я не понял, где фейк"],
        ["simpson2human", "den", "такое себе"],
    ]
    assert RESPONSES.read_bytes().decode("utf-8").startswith(HEADER)  # UTF-8, no BOM


def test_summary_means_std_n_and_bootstrap_interval():
    summary = summary_table(load_responses(RESPONSES)).set_index("survey")
    h2s, s2h = summary.loc["human2simpson"], summary.loc["simpson2human"]
    assert (h2s["n"], s2h["n"]) == (5, 5)
    assert h2s["mean"] == pytest.approx(6.55) and s2h["mean"] == pytest.approx(3.3)
    assert h2s["std"] == pytest.approx(np.std([6, 7, 8, 6.75, 5], ddof=1))
    assert h2s["std"] == pytest.approx(1.12361, abs=1e-5)
    assert s2h["std"] == pytest.approx(0.974679, abs=1e-6)
    for row in (h2s, s2h):
        assert row["ci_low"] < row["mean"] < row["ci_high"]
    # percentile bootstrap of 5 marks: the interval lies within the marks' range
    assert 5 <= h2s["ci_low"] and h2s["ci_high"] <= 8
    assert 2 <= s2h["ci_low"] and s2h["ci_high"] <= 4
    again = summary_table(load_responses(RESPONSES)).set_index("survey")
    assert again.equals(summary)  # fixed seed: identical every time


def test_bootstrap_matches_an_independent_resampling():
    marks = np.array([6, 7, 8, 6.75, 5.0])
    low, high = bootstrap_ci(marks, resamples=4000, seed=3)
    rng = np.random.default_rng(3)
    means = [marks[rng.integers(0, 5, 5)].mean() for _ in range(4000)]
    assert (low, high) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
    assert bootstrap_ci([7.0]) == (7.0, 7.0)


def test_single_rating_and_repeat_raters():
    df = parse_responses(HEADER + "s,ann,7,\ns,ann,8,again\nt,bob,3,\n", "mem")
    summary = summary_table(df).set_index("survey")
    assert summary.loc["s", "n"] == 2 and math.isnan(summary.loc["t", "std"])
    table = rater_table(df)
    assert list(table.index) == ["ann", "ann (2)", "bob"]
    assert table.loc["ann (2)", "s"] == 8 and math.isnan(table.loc["ann", "t"])


def test_cli_table_prints_the_means(capsys):
    assert main(["survey", "table", str(RESPONSES)]) == 0
    out = capsys.readouterr().out
    assert "human2simpson  5  6.55 1.12" in out
    assert "simpson2human  5  3.30 0.97" in out
    assert "качественная глазуня норм" in out
    assert main(["survey", "table", str(RESPONSES)]) == 0
    assert capsys.readouterr().out == out  # deterministic
    assert out == format_report(load_responses(RESPONSES), str(RESPONSES))


# --- load errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("survey,rater,comment\ns,a,\n", "line 1: missing column 'mark'"),
        ("survey,rater,mark,comment,x\ns,a,5,,\n", "unknown column 'x'"),
        (HEADER + "s,a,5,\ns,b,11,\n", "line 3: mark '11' is outside 1..10"),
        (HEADER + "s,a,0.5,\n", "line 2: mark '0.5' is outside"),
        (HEADER + "s,a,seven,\n", "line 2: mark 'seven' is not a number"),
        (HEADER + "s,a,nan,\n", "line 2: mark 'nan' is outside"),
        (HEADER + "s,a,5\n", "line 2: 3 fields, expected 4"),
        (HEADER + ",a,5,\n", "line 2: the survey name is empty"),
        (HEADER + "s, ,5,\n", "line 2: the rater name is empty"),
        ("", "is empty"),
    ],
)
def test_load_errors_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=message) as err:
        load_responses(path)
    assert str(path) in str(err.value)


def test_load_errors_for_missing_and_non_utf8_files(tmp_path, capsys):
    with pytest.raises(UserError, match="does not exist"):
        load_responses(tmp_path / "none.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + "s,a,5,café\n".encode("latin-1"))
    with pytest.raises(UserError, match="latin.csv is not UTF-8"):
        load_responses(latin)
    assert main(["survey", "table", str(latin)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "latin.csv" in err


def test_a_folder_means_its_responses_csv(tmp_path):
    (tmp_path / "responses.csv").write_text(HEADER + "demo,a,5,\n", encoding="utf-8")
    assert load_responses(tmp_path)["mark"].tolist() == [5.0]


# --- cg survey build ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from cg.checkpoints import save_checkpoint
    from cg.config import make_config
    from cg.models import build_generator

    torch.manual_seed(0)
    cfg = make_config(base_channels=4, image_size=32, paired=False, identity="classic")
    models = {k: build_generator(cfg).state_dict() for k in ("g_ab", "g_ba")}
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, {"config": cfg.to_dict(), "epoch": 1, "models": models})
    return path


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    """Twelve images of assorted sizes and formats, some in a subfolder."""
    root = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    for i in range(12):
        h, w = (40, 48) if i % 2 else (32, 32)
        arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        folder = root / "sub" if i >= 8 else root
        folder.mkdir(exist_ok=True)
        Image.fromarray(arr).save(folder / f"face{i:02d}.{'png' if i % 3 else 'jpg'}")
    return root


def _cell(grid: np.ndarray, row: int, col: int, size: int = 32, pad: int = 2) -> np.ndarray:
    y, x = pad + row * (size + pad), pad + col * (size + pad)
    return grid[y : y + size, x : x + size]


def test_build_writes_grid_pairs_and_manifest(tmp_path, tiny_checkpoint, faces, capsys):
    out = tmp_path / "survey" / "faces2simpsons"
    args = [
        "survey",
        "build",
        "--checkpoint",
        str(tiny_checkpoint),
        "--direction",
        "ab",
        "--input",
        str(faces),
        "--n",
        "4",
        "--seed",
        "7",
        "--out",
        str(out),
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    assert "wrote survey 'faces2simpsons' (4 images, ab)" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["direction"] == "ab" and manifest["seed"] == 7 and manifest["n"] == 4
    assert manifest["checkpoint"] == str(tiny_checkpoint)
    assert manifest["config"]["base_channels"] == 4 and manifest["image_size"] == 32
    assert manifest["cg_version"] == __import__("cg").__version__
    assert len(manifest["inputs"]) == 4 and len(set(manifest["inputs"])) == 4
    assert all((faces / f).is_file() for f in manifest["inputs"])

    grid = np.asarray(Image.open(out / "grid.png"))
    assert grid.shape == (2 + 4 * 34, 2 + 2 * 34, 3)
    for i in range(4):  # each row: left generated, right source
        gen = np.asarray(Image.open(out / f"pairs/{i + 1:02d}_generated.png"))
        src = np.asarray(Image.open(out / f"pairs/{i + 1:02d}_source.png"))
        assert np.array_equal(_cell(grid, i, 0), gen) and np.array_equal(_cell(grid, i, 1), src)
        assert not np.array_equal(gen, src)

    # the generated half is the checkpoint's g_ab applied to the resized source
    from cg.data import load_rgb
    from cg.images import to_uint8
    from cg.translate import load_generator, prepare, translate_batch

    g, cfg = load_generator(tiny_checkpoint, "ab")
    first = prepare(load_rgb(faces / manifest["inputs"][0]), cfg.image_size)
    expected = to_uint8(translate_batch(g, first[None]))[0].permute(1, 2, 0).numpy()
    assert np.abs(_cell(grid, 0, 0).astype(int) - expected.astype(int)).max() <= 1

    # deterministic per seed; another seed picks other files; an existing survey is kept
    again = tmp_path / "again"
    assert main([*args[:-4], "--out", str(again), "--device", "cpu"]) == 0
    assert json.loads((again / "manifest.json").read_text())["inputs"] == manifest["inputs"]
    assert (again / "grid.png").read_bytes() == (out / "grid.png").read_bytes()
    other = tmp_path / "other"
    assert main([*args[:-8], "--seed", "8", "--out", str(other), "--device", "cpu"]) == 0
    assert json.loads((other / "manifest.json").read_text())["inputs"] != manifest["inputs"]
    assert main(args) == 2
    assert "already holds a survey" in capsys.readouterr().err


def test_build_errors(tmp_path, tiny_checkpoint, faces, capsys):
    base = ["survey", "build", "--checkpoint", str(tiny_checkpoint), "--direction", "ba"]
    cases = [
        (["--input", str(faces), "--n", "13", "--out", str(tmp_path / "a")], "has 12 images"),
        (["--input", str(tmp_path / "no"), "--out", str(tmp_path / "b")], "does not exist"),
        (["--input", str(faces), "--n", "0", "--out", str(tmp_path / "c")], "at least one"),
    ]
    for extra, message in cases:
        assert main([*base, *extra]) == 2
        assert message in capsys.readouterr().err
    bad = [
        "survey",
        "build",
        "--checkpoint",
        str(tmp_path / "x.pt"),
        "--direction",
        "ab",
        "--input",
        str(faces),
        "--out",
        str(tmp_path / "d"),
    ]
    assert main(bad) == 2
    assert "x.pt does not exist" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "d").exists()


@pytest.mark.slow
def test_train_build_serve_rate_and_tabulate(tmp_path, capsys):
    """The whole survey loop on a model trained by `cg train` on the built-in face2simpson."""
    import threading
    import urllib.parse
    import urllib.request

    from cg.data import synthesize
    from cg.survey.server import SurveyServer

    synthesize("face2simpson", tmp_path / "data", size=32, n_train=4, n_val=6, seed=0)
    train = ["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
             "--image-size", "32", "--base-channels", "4", "--disc-channels", "4",
             "--epochs", "1", "--batch-size", "4", "--identity", "classic", "--device", "cpu",
             "--no-progress"]  # fmt: skip
    assert main(train) == 0
    folder = tmp_path / "survey" / "human2simpson_tiny"
    build = ["survey", "build", "--checkpoint", str(tmp_path / "run/checkpoints/last.pt"),
             "--direction", "ab", "--input", str(tmp_path / "data/testA"), "--n", "4",
             "--out", str(folder), "--device", "cpu"]  # fmt: skip
    assert main(build) == 0
    server = SurveyServer(folder, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        for rater, mark in (("den", "6"), ("irina", "6.75")):
            data = urllib.parse.urlencode(
                {"token": server.token, "rater": rater, "mark": mark, "comment": ""}
            ).encode()
            with urllib.request.urlopen(server.url + "submit", data=data, timeout=30) as resp:
                assert resp.status == 200 and resp.url.endswith("/results?submitted=1")
    finally:
        server.shutdown()
        server.server_close()
    capsys.readouterr()
    assert main(["survey", "table", str(folder)]) == 0
    assert "human2simpson_tiny  2  6.38 0.53" in capsys.readouterr().out
