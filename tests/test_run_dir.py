"""The run folder: one trainer at a time, damaged checkpoints, files under the user's umask."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import TINY, flags

from cg.cli import main
from cg.train.run_dir import RunDir, read_history

ARGS = [*flags(TINY), "--no-progress", "--paired"]


def cg(*args: object) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def data(synth) -> Path:
    return synth("edges2shoes")


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, "the first trainer ended before it wrote anything"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_a_second_trainer_on_the_same_folder_is_refused(data, tmp_path, capsys):
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "cg",
        "train",
        "--data",
        str(data),
        "--out",
        str(run),
        "--epochs",
        "50",
        *ARGS,
    ]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(run / "checkpoints" / "last.pt", first)
        capsys.readouterr()
        assert cg("train", "--out", run, "--resume", "--epochs", "50", "--no-progress") == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert str(run) in err and "another trainer" in err and str(first.pid) in err
        assert first.poll() is None  # the first one goes on
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the killed trainer's lock does not block: the run resumes
    done = read_history(run / "history.csv")
    assert (
        cg("train", "--out", run, "--resume", "--epochs", str(len(done) + 1), "--no-progress") == 0
    )
    assert len(read_history(run / "history.csv")) == len(done) + 1


def test_lock_is_released_and_reentrant_free(tmp_path):
    a, b = RunDir(tmp_path / "r"), RunDir(tmp_path / "r")
    with a.lock():
        with pytest.raises(Exception, match="another trainer"):
            b.acquire()
    b.acquire()  # free again once a released it
    b.release()


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_damaged_last_checkpoint_resumes_from_the_newest_intact_one(data, tmp_path, capsys):
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert cg("train", "--data", data, "--out", full, "--epochs", "3", *ARGS) == 0
    assert (
        cg("train", "--data", data, "--out", cut, "--epochs", "2", "--checkpoint-every", "1", *ARGS)
        == 0
    )
    last = cut / "checkpoints" / "last.pt"
    _truncate(last)
    capsys.readouterr()
    assert cg("info", last) == 2
    err = capsys.readouterr().err
    assert "damaged" in err and str(last) in err and "Errno" not in err
    assert cg("train", "--out", cut, "--resume", "--epochs", "3", "--no-progress") == 0
    err = capsys.readouterr().err
    assert "is damaged" in err and "epoch_0002.pt" in err
    assert (cut / "checkpoints" / "last.pt.damaged").is_file()  # kept, not destroyed
    want, got = read_history(full / "history.csv"), read_history(cut / "history.csv")
    for row in want + got:
        row.pop("seconds")
    assert got == want  # resuming from epoch_0002.pt is as exact as from last.pt


def test_a_damaged_checkpoint_without_a_fallback_is_named(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert cg("train", "--data", data, "--out", run, "--epochs", "1", *ARGS) == 0
    _truncate(run / "checkpoints" / "last.pt")
    capsys.readouterr()
    assert cg("train", "--out", run, "--resume", "--epochs", "2", "--no-progress") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged" in err and "no intact" in err, err
    assert (run / "checkpoints" / "last.pt").is_file()  # nothing removed


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_run_files_follow_the_umask(data, tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        run = tmp_path / "run"
        assert cg("train", "--data", data, "--out", run, "--epochs", "1", *ARGS) == 0
    finally:
        os.umask(old)
    files = [p for p in run.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {
        "config.json",
        "history.csv",
        "last.pt",
        ".lock",
        "epoch_0001_ab.png",
    }
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == mode, p
    # the checkpoint is whole and loads
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 1
