"""Training end to end through the CLI on synthetic data: modes, history, resume, errors."""

from __future__ import annotations

import csv
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import TINY as SMALL
from helpers import flags

from cg.checkpoints import load_checkpoint
from cg.cli import main
from cg.train import state as session_module
from cg.train.run_dir import HISTORY_COLUMNS, read_history

TINY = [*flags(SMALL), "--no-progress"]


@pytest.fixture(scope="module")
def datasets(synth) -> dict[str, Path]:
    return {name: synth(name) for name in ("cityscapes", "edges2shoes", "face2simpson")}


def cg(*args: str) -> int:
    return main([str(a) for a in args])


def history(run: Path) -> list[dict]:
    return read_history(run / "history.csv")


FILLED = {
    # (paired, adversarial): columns that must hold numbers
    (True, False): {
        "loss_g",
        "loss_cycle",
        "loss_identity",
        "pixel_error_ab_val",
        "pixel_error_ba_val",
        "identity_ab_val",
        "identity_ba_val",
    },
    (True, True): {
        "loss_g",
        "loss_d",
        "loss_cycle",
        "loss_identity",
        "loss_adv",
        "pixel_error_ab_val",
        "pixel_error_ba_val",
        "feedback_ab_train",
        "feedback_ab_val",
        "feedback_ba_train",
        "feedback_ba_val",
        "identity_ab_val",
        "identity_ba_val",
    },
    (False, False): {"loss_g", "loss_cycle", "loss_identity", "identity_ab_val", "identity_ba_val"},
    (False, True): {
        "loss_g",
        "loss_d",
        "loss_cycle",
        "loss_identity",
        "loss_adv",
        "feedback_ab_train",
        "feedback_ab_val",
        "feedback_ba_train",
        "feedback_ba_val",
        "identity_ab_val",
        "identity_ba_val",
    },
}


@pytest.mark.parametrize("dataset", ["cityscapes", "edges2shoes", "face2simpson"])
@pytest.mark.parametrize("paired", [True, False])
@pytest.mark.parametrize("adversarial", [True, False])
def test_every_mode_on_every_dataset(datasets, tmp_path, dataset, paired, adversarial):
    if dataset == "face2simpson" and paired:
        pytest.skip("face2simpson is unpaired")
    run = tmp_path / "run"
    mode = [
        "--paired" if paired else "--unpaired",
        "--adversarial" if adversarial else "--no-adversarial",
        "--identity",
        "paired" if paired else "classic",
    ]
    assert (
        cg("train", "--data", datasets[dataset], "--out", run, "--epochs", "1", *mode, *TINY) == 0
    )
    rows = history(run)
    assert len(rows) == 1 and list(rows[0])[: len(HISTORY_COLUMNS)] == list(HISTORY_COLUMNS)
    expected = set(FILLED[(paired, adversarial)])
    if not paired and dataset != "face2simpson":
        # pix2pix files trained unpaired still have paired validation: pixel errors exist
        expected |= {"pixel_error_ab_val", "pixel_error_ba_val"}
    row = rows[0]
    for col in HISTORY_COLUMNS:
        if col in expected:
            assert row[col] is not None and math.isfinite(row[col]), col
        elif col not in ("epoch", "seconds", "lr"):
            assert row[col] is None, col
    for col in ("feedback_ab_val", "feedback_ba_val"):
        if adversarial:
            assert 0.0 <= row[col] <= 1.0
    assert (run / "config.json").is_file() and (run / "checkpoints" / "last.pt").is_file()
    assert (run / "samples" / "epoch_0001_ab.png").is_file()
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert set(ckpt["models"]) == (
        {"g_ab", "g_ba", "d_a", "d_b"} if adversarial else {"g_ab", "g_ba"}
    )
    out = tmp_path / "translated"
    direction_input = {"face2simpson": (datasets[dataset] / "testA", None)}
    src, half = direction_input.get(dataset, (datasets[dataset] / "val", "a"))
    extra = ["--half", half] if half else []
    assert (
        cg(
            "translate",
            "--checkpoint",
            run / "checkpoints" / "last.pt",
            "--direction",
            "ab",
            "--input",
            src,
            "--output",
            out,
            "--no-progress",
            *extra,
        )
        == 0
    )
    names = sorted(p.with_suffix(".png").name for p in src.rglob("*") if p.is_file())
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == names  # PNG by default


def test_pix2pix_objective_is_a_history_mode(datasets, tmp_path):
    run = tmp_path / "p2p"
    assert (
        cg(
            "train",
            "--data",
            datasets["edges2shoes"],
            "--out",
            run,
            "--epochs",
            "1",
            "--objective",
            "pix2pix",
            *TINY,
        )
        == 0
    )
    row = history(run)[0]
    assert row["loss_l1"] is not None and row["feedback_ab_val"] is not None
    assert row["pixel_error_ab_val"] is not None and row["pixel_error_ba_val"] is None
    assert set(load_checkpoint(run / "checkpoints" / "last.pt")["models"]) == {"g_ab", "d_b"}


def _weights(run: Path) -> dict[str, torch.Tensor]:
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    return {f"{m}.{k}": v for m, sd in ckpt["models"].items() for k, v in sd.items()}


def _same_history(a: Path, b: Path) -> None:
    ha, hb = history(a), history(b)
    assert len(ha) == len(hb)
    for ra, rb in zip(ha, hb):
        ra.pop("seconds"), rb.pop("seconds")
        assert ra == rb


def _same_weights(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


RESUME_ARGS = ["--epochs", "3", "--pool-size", "3", "--identity", "classic", *TINY]
KILL_ARGS = [*RESUME_ARGS, "--lr-decay-epochs", "2"]


def test_resume_is_bitwise_identical(datasets, tmp_path):
    data = datasets["face2simpson"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert cg("train", "--data", data, "--out", full, *RESUME_ARGS) == 0
    args = list(RESUME_ARGS)
    args[1] = "1"
    assert cg("train", "--data", data, "--out", part, *args) == 0
    assert cg("train", "--out", part, "--resume", "--epochs", "3", "--no-progress") == 0
    _same_history(full, part)
    _same_weights(full, part)


def test_sigkill_at_any_moment_then_resume(datasets, tmp_path):
    """Kill a real `cg train` process mid-run (SIGKILL), resume it, compare to a clean run."""
    data = datasets["cityscapes"]
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert cg("train", "--data", data, "--out", full, *KILL_ARGS) == 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "cg",
        "train",
        "--data",
        str(data),
        "--out",
        str(killed),
        *KILL_ARGS,
    ]
    interrupted = []  # (epochs in last.pt when killed) for each kill that hit a running trainer
    for delay in (0.0, 0.3):  # kills at different moments (start-up, mid-epoch or mid-save)
        proc = subprocess.Popen(
            cmd + (["--resume"] if (killed / "checkpoints").exists() else []),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if (killed / "checkpoints" / "last.pt").exists():
                time.sleep(delay)
                break
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert proc.returncode == -signal.SIGKILL
            last = killed / "checkpoints" / "last.pt"
            interrupted.append(load_checkpoint(last)["epoch"] if last.exists() else 0)
    # the kills really cut the run short: a trainer was still running, before its last epoch
    assert interrupted and min(interrupted) < 3, interrupted
    resume = ["--resume"] if (killed / "checkpoints" / "last.pt").exists() else []
    if resume:
        assert cg("train", "--out", killed, "--resume", "--no-progress") == 0
    else:
        assert cg("train", "--data", data, "--out", killed, *KILL_ARGS) == 0
    assert len(history(killed)) == 3
    _same_history(full, killed)
    _same_weights(full, killed)
    leftovers = [p.name for p in (killed / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) <= 1  # at most one temp file of a killed save; never a bad last.pt


# A trainer whose checkpoint writes stall half-way from epoch 2 on (the bytes of the new
# last.pt are in its temporary file, not yet renamed): it is killed there.
_STALLED_WRITER = """
import os, sys, time, torch
import cg.checkpoints
marker = sys.argv[1]
real_save = torch.save
def stalled(obj, f, *args, **kwargs):
    real_save(obj, f, *args, **kwargs)
    if isinstance(obj, dict) and obj.get("epoch", 0) >= 2:
        f.flush()
        with open(marker + ".part", "w") as m:  # complete once it exists: the test polls it
            m.write(str(obj["epoch"]))
        os.replace(marker + ".part", marker)
        time.sleep(600)
torch.save = stalled
from cg.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_sigkill_during_a_background_checkpoint_write_then_resume(datasets, tmp_path):
    """The checkpoint is written in the background: a kill in the middle of that write leaves
    the previous last.pt whole, and the resumed run ends bitwise where a clean run ends."""
    data = datasets["cityscapes"]
    full, killed, marker = tmp_path / "full", tmp_path / "killed", tmp_path / "writing"
    assert cg("train", "--data", data, "--out", full, *KILL_ARGS) == 0
    cmd = [sys.executable, "-c", _STALLED_WRITER, str(marker)]
    cmd += ["train", "--data", str(data), "--out", str(killed), *KILL_ARGS]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the trainer ended before its second checkpoint"
            assert time.monotonic() < deadline, "the second checkpoint was never written"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert marker.read_text() == "2"
    ckpts = killed / "checkpoints"
    unfinished = [p for p in ckpts.iterdir() if p.name.endswith(".tmp")]
    assert len(unfinished) == 1 and unfinished[0].name.startswith(".last.pt.")
    assert load_checkpoint(ckpts / "last.pt")["epoch"] == 1  # the previous one, whole
    assert len(history(killed)) == 1  # history.csv goes with last.pt
    assert cg("train", "--out", killed, "--resume", "--no-progress") == 0
    _same_history(full, killed)
    _same_weights(full, killed)
    assert not [p for p in ckpts.iterdir() if p.name.endswith(".tmp")]  # cleaned up


def test_resume_refuses_a_changed_config_but_extends_epochs(datasets, tmp_path, capsys):
    run = tmp_path / "run"
    assert cg("train", "--data", datasets["edges2shoes"], "--out", run, "--epochs", "1", *TINY) == 0
    capsys.readouterr()
    assert cg("train", "--out", run, "--resume", "--lr", "0.1") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot resume") and "lr" in err and err.count("\n") == 1
    assert cg("train", "--out", run, "--resume", "--epochs", "2", "--no-progress") == 0
    assert len(history(run)) == 2


def test_divergence_stops_and_keeps_last_good_checkpoint(datasets, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    assert cg("train", "--data", datasets["edges2shoes"], "--out", run, "--epochs", "1", *TINY) == 0
    good = _weights(run)

    def nan_step(*args, **kwargs):
        return {"loss_g": torch.tensor(float("nan"))}

    monkeypatch.setattr(session_module, "cyclegan_step", nan_step)
    capsys.readouterr()
    assert cg("train", "--out", run, "--resume", "--epochs", "2", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "diverged in epoch 2" in err and "last.pt" in err
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 1
    assert all(torch.equal(v, _weights(run)[k]) for k, v in good.items())
    assert len(history(run)) == 1


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_user_errors_are_one_line(datasets, tmp_path, capsys):
    from PIL import Image

    run = tmp_path / "r"
    cases = []
    cases.append((["train", "--data", tmp_path / "missing", "--out", run], "missing"))
    (tmp_path / "empty").mkdir()
    cases.append((["train", "--data", tmp_path / "empty", "--out", run], "empty"))
    cases.append(
        (
            ["train", "--data", datasets["edges2shoes"], "--out", run, "--image-size", "50"],
            "divisible by 16",
        )
    )
    cases.append(
        (
            ["train", "--data", datasets["edges2shoes"], "--out", run, "--batch-size", "zero"],
            "batch-size",
        )
    )
    cases.append(
        (
            ["train", "--data", datasets["edges2shoes"], "--out", run, "--generator", "vgg"],
            "generator",
        )
    )
    cases.append(
        (["train", "--data", datasets["face2simpson"], "--out", run, "--paired"], "unpaired")
    )
    cases.append((["train", "--out", tmp_path / "none", "--resume"], "nothing to resume"))
    cases.append((["info", tmp_path / "nope.pt"], "does not exist"))
    notckpt = tmp_path / "junk.pt"
    notckpt.write_bytes(b"not a checkpoint")
    cases.append((["info", notckpt], "cannot load checkpoint"))
    for args, needle in cases:
        assert cg(*args) == 2, args
        assert needle in _error_line(capsys), args

    # an unreadable image and an odd-width pair are listed by name; --skip-bad trains anyway
    import shutil

    data = tmp_path / "bad"
    shutil.copytree(datasets["edges2shoes"], data)
    (data / "train" / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    Image.new("RGB", (33, 16)).save(data / "train" / "odd.png")
    assert cg("train", "--data", data, "--out", run, *TINY) == 2
    err = _error_line(capsys)
    assert "broken.jpg" in err and "odd.png" in err and "--skip-bad" in err
    assert not run.exists()
    assert cg("train", "--data", data, "--out", run, "--epochs", "1", "--skip-bad", *TINY) == 0
    capsys.readouterr()
    # an existing run is never overwritten
    assert cg("train", "--data", data, "--out", run, "--skip-bad", *TINY) == 2
    assert "already holds a run" in _error_line(capsys)
    # a generator the checkpoint does not have
    p2p = tmp_path / "p2p"
    assert (
        cg(
            "train",
            "--data",
            datasets["edges2shoes"],
            "--out",
            p2p,
            "--epochs",
            "1",
            "--objective",
            "pix2pix",
            *TINY,
        )
        == 0
    )
    capsys.readouterr()
    assert (
        cg(
            "translate",
            "--checkpoint",
            p2p / "checkpoints" / "last.pt",
            "--direction",
            "ba",
            "--input",
            data / "val",
            "--output",
            tmp_path / "o",
            "--half",
            "b",
        )
        == 2
    )
    assert "no g_ba" in _error_line(capsys)


def test_info_describes_a_run(datasets, tmp_path, capsys):
    run = tmp_path / "run"
    assert cg("train", "--data", datasets["edges2shoes"], "--out", run, "--epochs", "1", *TINY) == 0
    capsys.readouterr()
    assert cg("info", run / "checkpoints" / "last.pt") == 0
    out = capsys.readouterr().out
    assert "epochs completed: 1" in out and "model g_ab" in out and "parameters" in out
    with open(run / "history.csv", newline="") as f:
        assert next(csv.reader(f))[: len(HISTORY_COLUMNS)] == list(HISTORY_COLUMNS)


def test_fid_every_adds_columns_and_caches_real_statistics(datasets, tmp_path, monkeypatch):
    """--fid-every: FID columns in the history; the real statistics are computed once."""
    from cg.eval.fid import score as fid_module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = []
    original = fid_module.FeatureStats.of

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(fid_module.FeatureStats, "of", staticmethod(counting))
    run = tmp_path / "run"
    assert (
        cg(
            "train",
            "--data",
            datasets["face2simpson"],
            "--out",
            run,
            "--epochs",
            "2",
            "--fid-every",
            "1",
            "--max-val-images",
            "3",
            "--identity",
            "classic",
            *TINY,
        )
        == 0
    )
    rows = history(run)
    for row in rows:
        assert row["fid_ab_val"] > 0 and row["fid_ba_val"] > 0
    assert len(calls) == 2  # the real sets (A and B) once each, not every epoch
    cached = list((tmp_path / "cache" / "cg" / "fid").glob("fid-*.pt"))
    assert len(cached) == 2
    # another run on the same data reads them from the disk cache
    assert (
        cg(
            "train",
            "--data",
            datasets["face2simpson"],
            "--out",
            tmp_path / "run2",
            "--epochs",
            "1",
            "--fid-every",
            "1",
            "--max-val-images",
            "3",
            "--identity",
            "classic",
            *TINY,
        )
        == 0
    )
    assert len(calls) == 2
    assert history(tmp_path / "run2")[0]["fid_ab_val"] > 0
