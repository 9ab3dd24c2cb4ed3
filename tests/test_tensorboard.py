"""``cg train --tensorboard``: the history, sample grids and config as TensorBoard events that
read back equal to the run's files, one value per step across resumes."""

from __future__ import annotations

import io
import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, flags
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import plugin_event_accumulator as pea

from cg.checkpoints import load_checkpoint
from cg.cli import main
from cg.train.run_dir import RunDir, read_history

pytestmark = pytest.mark.usefixtures("one_thread")


def cg(*args: object) -> int:
    return main([str(a) for a in args])


def events(run: Path) -> ea.EventAccumulator:
    """Every event under ``run/tensorboard`` (no sampling), as TensorBoard itself reads them,
    dropping what a later start purged."""
    keep_all = {ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0}
    acc = ea.EventAccumulator(str(run / "tensorboard"), size_guidance=keep_all)
    acc.Reload()
    return acc


def check_events_match_the_run(run: Path, epochs: int, config_steps: list[int]) -> None:
    """Scalars = history.csv (float32), images = the sample PNGs, text = config.json."""
    acc = events(run)
    rows = read_history(run / "history.csv")
    assert [r["epoch"] for r in rows] == list(range(1, epochs + 1))
    columns = {k for r in rows for k, v in r.items() if v is not None and k != "epoch"}
    assert {"loss_g", "pixel_error_ab_val", "seconds", "lr"} <= columns
    scalars = set(acc.Tags()["scalars"])
    assert columns == scalars, columns ^ scalars
    for column in sorted(columns):
        logged = acc.Scalars(column)
        assert [e.step for e in logged] == list(range(1, epochs + 1)), column
        want = np.array([r[column] for r in rows], dtype=np.float32)
        np.testing.assert_array_equal(np.array([e.value for e in logged], np.float32), want)
    for direction in ("ab", "ba"):
        images = acc.Images(f"samples/{direction}")
        assert [e.step for e in images] == list(range(1, epochs + 1)), direction
        for e in images:
            got = np.asarray(Image.open(io.BytesIO(e.encoded_image_string)).convert("RGB"))
            png = np.asarray(Image.open(RunDir(run).sample_path(e.step, direction)).convert("RGB"))
            np.testing.assert_array_equal(got, png)
    # The text as TensorBoard's own loader reads it (the legacy accumulator above does not
    # apply a restart's purge to text, which TensorBoard does).
    board = pea.EventAccumulator(str(run / "tensorboard"), size_guidance={pea.TENSORS: 0})
    board.Reload()
    texts = board.Tensors("config/text_summary")
    assert [e.step for e in texts] == config_steps
    configs = [json.loads(textwrap.dedent(e.tensor_proto.string_val[0].decode())) for e in texts]
    saved = json.loads((run / "config.json").read_text())
    assert configs[-1] == saved  # each start logs its own config: the last one is the run's
    for c in configs:
        assert {**c, "epochs": saved["epochs"]} == saved


def test_tensorboard_curves_continue_on_resume_with_one_value_per_step(synth, tmp_path):
    data, run = synth("cityscapes"), tmp_path / "run"
    base = ["train", "--data", data, "--out", run, *flags(TINY), "--quiet"]
    assert cg(*base, "--epochs", 2, "--tensorboard", "--checkpoint-every", 1) == 0
    assert cg("train", "--out", run, "--resume", "--epochs", 3, "--tensorboard", "--quiet") == 0
    check_events_match_the_run(run, 3, config_steps=[1, 3])

    # A trainer killed after it logged epoch 3 but before that epoch's checkpoint: the resumed
    # run trains epoch 3 again, and TensorBoard keeps only the new values (purge_step).
    shutil.copyfile(run / "checkpoints" / "epoch_0002.pt", run / "checkpoints" / "last.pt")
    before = {e.step: e.value for e in events(run).Scalars("seconds")}
    assert cg("train", "--out", run, "--resume", "--epochs", 3, "--tensorboard", "--quiet") == 0
    check_events_match_the_run(run, 3, config_steps=[1, 3])
    after = {e.step: e.value for e in events(run).Scalars("seconds")}
    assert after[3] != before[3]  # the rerun's wall-clock time, not the first run's


def test_tensorboard_turned_on_at_resume_logs_the_earlier_epochs_and_changes_nothing(
    synth, tmp_path
):
    data = synth("cityscapes")
    plain, logged = tmp_path / "plain", tmp_path / "logged"
    common = [*flags(TINY), "--quiet"]
    assert cg("train", "--data", data, "--out", plain, *common, "--epochs", 2) == 0
    assert cg("train", "--data", data, "--out", logged, *common, "--epochs", 1) == 0
    assert not (logged / "tensorboard").exists()
    assert cg("train", "--out", logged, "--resume", "--epochs", 2, "--tensorboard") == 0
    check_events_match_the_run(logged, 2, config_steps=[2])

    def without_seconds(run: Path) -> list[dict]:
        rows = read_history(run / "history.csv")
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert without_seconds(logged) == without_seconds(plain)
    a = load_checkpoint(plain / "checkpoints" / "last.pt")["models"]
    b = load_checkpoint(logged / "checkpoints" / "last.pt")["models"]
    for name in a:
        for key, tensor in a[name].items():
            assert torch.equal(tensor, b[name][key]), (name, key)
