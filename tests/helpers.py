"""Helpers shared by the training tests (fixtures are in ``conftest.py``)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

# A configuration small enough for a CPU test that still runs every part of a training step.
TINY: dict[str, Any] = {
    "image_size": 32,
    "base_channels": 4,
    "disc_channels": 4,
    "batch_size": 4,
    "feedback_subset": 4,
    "sample_count": 2,
}


def flags(options: dict[str, Any]) -> list[str]:
    """``cg train`` flags for config ``options``: ``{"batch_size": 4, "paired": True}`` ->
    ``["--batch-size", "4", "--paired"]`` (False -> ``--no-NAME``)."""
    out: list[str] = []
    for key, value in options.items():
        name = "--" + key.replace("_", "-")
        if value is True:
            out.append(name)
        elif value is False:
            out.append("--no-" + name[2:])
        else:
            out += [name, str(value)]
    return out


def settle_batch_norm(checkpoint: Path, data: Path, out: Path) -> Path:
    """A copy of ``checkpoint`` at ``out`` whose generators' batch-norm running statistics are
    the exact averages over the training pairs under ``data/train`` (A halves for ``g_ab``, B
    halves for ``g_ba``), as long training leaves them.

    A one-epoch test run takes too few steps for the running statistics (momentum 0.1) to leave
    their initial values, which makes eval-mode outputs almost constant images; comparisons of
    outputs then say little. With settled statistics they vary across the whole range.
    """
    import numpy as np
    import torch
    from PIL import Image

    from cg.checkpoints import load_checkpoint, save_checkpoint
    from cg.config import config_from_dict
    from cg.models import build_generator

    state = load_checkpoint(checkpoint)
    cfg = config_from_dict(state["config"])
    pairs = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(data.rglob("train/*.jpg"))]
    x = torch.from_numpy(np.stack(pairs)).permute(0, 3, 1, 2).float() / 127.5 - 1
    halves = {"g_ab": x[..., : x.shape[-1] // 2], "g_ba": x[..., x.shape[-1] // 2 :]}
    for key, images in halves.items():
        if key not in state["models"]:
            continue
        generator = build_generator(cfg)
        generator.load_state_dict(state["models"][key])
        for m in generator.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None  # a cumulative average over every batch seen
        with torch.no_grad():
            generator.train()(images.contiguous())
        state["models"][key] = generator.state_dict()
    keep = {k: v for k, v in state.items() if k not in ("format", "version", "cg_version")}
    save_checkpoint(out, keep)
    return out


def _default_signals() -> None:
    """In the child, before exec: SIGINT's default action (a shell that starts pytest in the
    background leaves it ignored, and Python would keep it so) and none blocked."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def start_as_terminal(cmd: list[str], **kwargs: Any) -> subprocess.Popen:
    """``cmd`` in a session of its own (its group is its pid), as a terminal starts a command,
    with the signals' default actions, whatever pytest itself was started with; its stdout and
    stderr piped as text."""
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_default_signals,
        **kwargs,
    )
