"""The background checkpoint writer: what it writes is the state at submit time, its errors
reach the trainer, and the loop reports where each epoch's time went."""

from __future__ import annotations

import pytest
import torch
from helpers import TINY

from cg.checkpoints import load_checkpoint
from cg.config import make_config
from cg.errors import UserError
from cg.train.loop import train
from cg.train.run_dir import RunDir
from cg.train.writer import CheckpointWriter, snapshot


def _payload(epoch: int) -> dict:
    w = torch.arange(6.0).reshape(2, 3)
    return {
        "config": {},
        "epoch": epoch,
        "history": [{"epoch": epoch, "seconds": 1.5, "loss_g": 0.25}],
        "models": {"g_ab": {"w": w}},
        "optimizers": {"g": {"state": {0: {"exp_avg": w * 2, "step": torch.tensor(3.0)}}}},
    }


def test_snapshot_copies_every_tensor_and_container():
    p = _payload(1)
    s = snapshot(p)
    p["models"]["g_ab"]["w"].add_(100)
    p["history"][0]["loss_g"] = 9.0
    p["history"].append({"epoch": 2})
    assert torch.equal(s["models"]["g_ab"]["w"], torch.arange(6.0).reshape(2, 3))
    assert s["history"] == [{"epoch": 1, "seconds": 1.5, "loss_g": 0.25}]
    assert s["optimizers"]["g"]["state"][0]["step"].item() == 3.0


@pytest.mark.parametrize("background", [True, False])
def test_the_written_checkpoint_is_the_state_at_submit_time(tmp_path, background):
    run = RunDir(tmp_path / "run")
    writer = CheckpointWriter(run, background=background)
    p = _payload(1)
    writer.submit(p, keep=True)
    p["models"]["g_ab"]["w"].mul_(0)  # training goes on while the file is written
    p["optimizers"]["g"]["state"][0]["exp_avg"].fill_(-1)
    p["history"].append({"epoch": 2})
    writer.close()
    for path in (run.last, run.epoch_checkpoint(1)):
        got = load_checkpoint(path)
        assert torch.equal(got["models"]["g_ab"]["w"], torch.arange(6.0).reshape(2, 3))
        assert torch.equal(
            got["optimizers"]["g"]["state"][0]["exp_avg"], got["models"]["g_ab"]["w"] * 2
        )
        assert got["epoch"] == 1 and len(got["history"]) == 1
    assert run.epoch_checkpoint(1).read_bytes() == run.last.read_bytes()
    (row,) = run.read_history()
    assert (row["epoch"], row["seconds"], row["loss_g"]) == (1, 1.5, 0.25)


def test_a_failed_background_write_reaches_the_trainer_with_the_file_named(tmp_path):
    run = RunDir(tmp_path / "run")
    run.root.mkdir()
    run.checkpoints.write_text("not a folder")  # the checkpoint cannot be written
    writer = CheckpointWriter(run)
    writer.submit(_payload(1), keep=False)
    with pytest.raises(UserError) as e:
        writer.close()
    assert str(run.last) in str(e.value) and "--resume" in str(e.value)
    writer.close()  # reported once; the writer is usable again
    assert run.checkpoints.read_text() == "not a folder"


def test_the_next_trainer_removes_unfinished_writes_only(tmp_path):
    run = RunDir(tmp_path / "run")
    run.checkpoints.mkdir(parents=True)
    stale = [run.checkpoints / ".last.pt.abc123.tmp", run.root / ".history.csv.x1.tmp"]
    kept = [run.checkpoints / "last.pt", run.checkpoints / "notes.tmp", run.root / "history.csv"]
    for p in stale + kept:
        p.write_text("x")
    with run.lock():
        pass
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)


def test_the_loop_reports_where_each_epochs_time_went(synth, tmp_path):
    data = synth("edges2shoes")
    cfg = make_config(
        "edges2shoes", data=str(data), epochs=2, checkpoint_every=1, adversarial=True, **TINY
    )
    timings: list[dict[str, float]] = []
    history = train(cfg, tmp_path / "run", progress=False, quiet=True, timings=timings)
    assert [t["epoch"] for t in timings] == [1, 2]
    for t, (_, row) in zip(timings, history.iterrows()):
        parts = t["steps_s"] + t["evaluation_s"] + t["samples_s"] + t["checkpoint_s"]
        assert all(t[k] >= 0 for k in t) and parts <= t["epoch_s"] + 1e-6
        assert t["steps_s"] + t["evaluation_s"] == pytest.approx(row["seconds"], abs=1e-6)
    run = RunDir(tmp_path / "run")
    assert load_checkpoint(run.last)["epoch"] == 2  # the last write was waited for
    assert [e for e, _ in run.epoch_checkpoints()] == [2, 1]
