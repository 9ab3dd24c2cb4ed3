"""Mixed precision and the GPU fast paths, exercised on the CPU.

Tolerance (bf16 against fp32, same seed, 3 epochs of the report's configuration on a small
synthetic Cityscapes): the reconstruction losses (cycle, identity, generator total) and the
validation pixel errors of every epoch agree within 2% relative (measured: <= 0.4%); the
adversarial terms (D loss, G's adversarial loss) and the D feedback, a two-player game that
amplifies rounding, within 10% (measured: <= 3%). bf16 keeps 8 bits of mantissa (relative
rounding 2^-9 = 0.2%) and autocast keeps the losses, BatchNorm and the optimiser in fp32.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import TINY as SMALL

from cg.cli import main
from cg.config import make_config

TINY = {
    **SMALL,
    "paired": True,
    "base_channels": 8,
    "disc_channels": 8,
    "sample_count": 0,
    "seed": 5,
}
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data(synth) -> Path:
    return synth("cityscapes", n_train=16, n_val=8, seed=2)


def _distance(run, reference, columns) -> float:
    """Mean relative distance of ``run``'s history from ``reference``'s over ``columns``."""
    import numpy as np

    a = run[list(columns)].to_numpy(float)
    b = reference[list(columns)].to_numpy(float)
    return float(np.mean(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


def test_bf16_tracks_fp32(data, tmp_path):
    """bf16 stays as close to fp32 as two fp32 runs that differ only in their seed stay to each
    other: a bound set by training's own variation, not by the CPU the test was written on."""
    from cg.train.loop import train

    def run(name: str, precision: str, seed: int):
        cfg = make_config(
            **{**TINY, "data": str(data), "epochs": 3, "precision": precision, "seed": seed}
        )
        return train(cfg, tmp_path / name, progress=False)

    fp32, bf16, reseeded = run("fp32", "fp32", 5), run("bf16", "bf16", 5), run("s6", "fp32", 6)
    close = ("loss_g", "loss_cycle", "loss_identity", "pixel_error_ab_val", "pixel_error_ba_val")
    game = ("loss_d", "loss_adv", "feedback_ab_val", "feedback_ba_val")
    for cols in (close, game):
        assert _distance(bf16, fp32, cols) < _distance(reseeded, fp32, cols), cols
    # and the runs are not trivially equal: bf16 really ran in bf16
    assert list(bf16["loss_g"]) != list(fp32["loss_g"])


def _session(precision: str):
    from cg.train.state import build_session

    cfg = make_config(**{**TINY, "precision": precision, "device": "cpu"})
    return cfg, build_session(cfg, torch.device("cpu"))


def test_bf16_autocast_runs_the_convolutions_in_bf16():
    cfg, s = _session("bf16")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with s.optim.autocast():
        assert s.models.g_ab(x).dtype == torch.bfloat16
    with s.optim.autocast():
        assert s.models.d_b(x).dtype == torch.bfloat16
    assert next(s.models.g_ab.parameters()).dtype == torch.float32  # fp32 master weights


def test_fp16_grad_scaler_path_skips_overflowing_steps():
    """The fp16 path (GPU) on the CPU: scaled backward, a step per optimiser, one update;
    a step whose scaled gradients overflow is skipped and the scale halved."""
    from cg.train.steps import Optim, cyclegan_step

    cfg, s = _session("fp32")
    g = torch.Generator().manual_seed(0)
    real_a, real_b = (torch.rand(4, 3, 32, 32, generator=g) * 2 - 1 for _ in range(2))

    def fp16() -> torch.autocast:
        return torch.autocast("cpu", dtype=torch.float16)

    before = [p.detach().clone() for p in s.models.g_ab.parameters()]
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**60)  # overflows fp16 gradients
    o = Optim(s.optim.g, s.optim.d, scaler, autocast=fp16)
    cyclegan_step(real_a, real_b, s.models, o, s.pools, cfg)
    assert scaler.get_scale() == 2.0**59
    assert all(torch.equal(a, b) for a, b in zip(before, s.models.g_ab.parameters()))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    o = Optim(s.optim.g, s.optim.d, scaler, autocast=fp16)
    losses = cyclegan_step(real_a, real_b, s.models, o, s.pools, cfg)
    assert all(torch.isfinite(v) for v in losses.values())
    assert scaler.get_scale() == 2.0**8
    assert not all(torch.equal(a, b) for a, b in zip(before, s.models.g_ab.parameters()))


def test_fp16_on_the_cpu_is_a_one_line_error(data, tmp_path, capsys):
    args = [
        "train",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "r"),
        "--precision",
        "fp16",
        "--device",
        "cpu",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "fp16" in err and err.count("\n") == 1


@pytest.mark.parametrize("native", [False, True])
def test_bf16_without_bf16_hardware_warns_once(data, tmp_path, capsys, monkeypatch, native):
    from cg import runtime

    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    flags = ["--epochs", "1", "--precision", "bf16", "--device", "cpu", "--no-progress"]
    args = ["train", "--data", str(data), "--out", str(tmp_path / "r"), *flags]
    assert main([*args, "--image-size", "32", "--base-channels", "4", "--disc-channels", "4"]) == 0
    err = capsys.readouterr().err
    assert err.count("no bf16 hardware") == (0 if native else 1)
    if not native:
        assert "--precision fp32" in err
    assert runtime.precision_warning(torch.device("cpu"), "fp32") is None
    assert runtime.precision_warning(torch.device("cuda"), "bf16") is None


@pytest.mark.slow
def test_compiled_step_matches_eager():
    """torch.compile (inductor, CPU) of generators and discriminators: the same losses."""
    import dataclasses

    from cg.train.state import build_session

    cfg = make_config(**{**TINY, "base_channels": 4, "disc_channels": 4, "device": "cpu"})
    g = torch.Generator().manual_seed(0)
    batch = {k: torch.rand(4, 3, 32, 32, generator=g) * 2 - 1 for k in ("a", "b")}
    eager = build_session(cfg, torch.device("cpu"))
    compiled = build_session(dataclasses.replace(cfg, compile=True), torch.device("cpu"))
    assert type(compiled.train_models.d_b).__name__ == "OptimizedModule"  # forward: the logits
    for _ in range(2):
        want, got = eager.step(batch), compiled.step(batch)
        for k, v in want.items():
            assert got[k].item() == pytest.approx(v.item(), rel=1e-3, abs=1e-5), k
