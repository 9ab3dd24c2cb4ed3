"""The live state of a run: models, optimisers, image pools, RNG states, device.

:func:`build_session` creates it from a config (seeded, so initial weights are a function of
``cfg.seed``); :meth:`Session.step` is one optimisation step; :meth:`Session.state_dict` /
:meth:`Session.load_state` are what a checkpoint stores besides the config and history.
Evaluation is not here: it is a function of the models (:mod:`cg.eval`).
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from cg.config import TrainConfig
from cg.errors import UserError
from cg.models import build_discriminator, build_generator
from cg.runtime import (
    autocast,
    channels_last_batchnorm_grads,
    default_channels_last,
    seed_everything,
    to_device,
    tune_cpu_allocator,
)
from cg.train.batchnorm import recompute_running_stats
from cg.train.distributed import SINGLE, DistInfo
from cg.train.distributed import wrap as wrap_ddp
from cg.train.steps import ImagePool, Models, Optim, cyclegan_step, pix2pix_step
from cg.train.sync_batchnorm import convert_sync_batchnorm


@dataclass
class Session:
    cfg: TrainConfig
    device: torch.device
    models: Models
    optim: Optim
    pools: dict[str, ImagePool]
    train_models: Models  # what the step calls: compiled / DDP-wrapped versions of ``models``

    # --- training ------------------------------------------------------------------------------
    def set_epoch_lr(self, epoch: int) -> float:
        """Set and return the learning rate of ``epoch`` (1-based): constant, then a linear
        decay to 0 over the last ``lr_decay_epochs`` epochs (the reference's 'linear' policy)."""
        cfg = self.cfg
        constant = cfg.epochs - cfg.lr_decay_epochs
        factor = 1.0 - max(0, epoch - constant) / float(cfg.lr_decay_epochs + 1)
        lr = cfg.lr * factor
        for opt in (self.optim.g, self.optim.d):
            if opt is not None:
                for group in opt.param_groups:
                    group["lr"] = lr
        return lr

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimisation step on ``batch`` (``{"a": ..., "b": ...}``): detached losses."""
        for _, m in self.train_models.items():
            m.train()
        cfg = self.cfg
        real_a = to_device(batch["a"], self.device, cfg.channels_last)
        real_b = to_device(batch["b"], self.device, cfg.channels_last)
        fn = pix2pix_step if cfg.objective == "pix2pix" else cyclegan_step
        return fn(real_a, real_b, self.train_models, self.optim, self.pools, cfg)

    def recompute_bn_stats(self, batches: Iterable[dict[str, torch.Tensor]]) -> None:
        """``precise_bn``: each generator's BatchNorm running statistics recomputed over its
        source images in ``batches`` (``{"a": ..., "b": ...}``, either key may be missing) with
        the current weights (:func:`cg.train.batchnorm.recompute_running_stats`). Every rank
        calls it with the same batches, so synchronised BatchNorm layers agree."""
        cfg = self.cfg
        kept = [
            {k: to_device(v, self.device, cfg.channels_last) for k, v in b.items()} for b in batches
        ]
        for g, src in ((self.models.g_ab, "a"), (self.models.g_ba, "b")):
            if g is not None:
                with self.optim.autocast():
                    recompute_running_stats(g, [b[src] for b in kept if src in b])

    # --- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint stores besides the config and history. Its tensors are the live
        ones (shared with the models and optimisers, on their device): copy them
        (:func:`cg.train.writer.snapshot`) before training goes on."""
        opts = {"g": self.optim.g.state_dict()}
        if self.optim.d is not None:
            opts["d"] = self.optim.d.state_dict()
        rng: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "numpy": _numpy_state(),
            "python": _python_state(),
        }
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "models": {k: _live_state(m) for k, m in self.models.items()},
            "optimizers": opts,
            "scaler": self.optim.scaler.state_dict() if self.optim.scaler is not None else None,
            "pools": {k: p.state_dict() for k, p in self.pools.items()},
            "rng": rng,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        saved = state.get("models", {})
        for name, module in self.models.items():
            if name not in saved:
                raise UserError(f"checkpoint has no weights for {name}; it is from another mode")
            module.load_state_dict(saved[name])
        self.optim.g.load_state_dict(state["optimizers"]["g"])
        if self.optim.d is not None:
            self.optim.d.load_state_dict(state["optimizers"]["d"])
        if self.optim.scaler is not None and state.get("scaler"):
            self.optim.scaler.load_state_dict(state["scaler"])
        for k, pool in self.pools.items():
            if k in state.get("pools", {}):
                pool.load_state_dict(state["pools"][k], self.device)
        rng = state.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "numpy" in rng:
            np.random.set_state(_numpy_restore(rng["numpy"]))
        if "python" in rng:
            random.setstate(_python_restore(rng["python"]))
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])


def _live_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in module.state_dict().items()}


# numpy's and Python's RNG states, as tensors and lists so weights_only loading accepts them.
def _numpy_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "name": name,
        "keys": torch.from_numpy(keys.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached": float(cached),
    }


def _numpy_restore(s: dict[str, Any]) -> tuple:
    keys = s["keys"].numpy().astype(np.uint32)
    return (s["name"], keys, s["pos"], s["has_gauss"], s["cached"])


def _python_state() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    return {"version": version, "internal": list(internal), "gauss": gauss}


def _python_restore(s: dict[str, Any]) -> tuple:
    return (s["version"], tuple(s["internal"]), s["gauss"])


def _train_view(models: Models, cfg: TrainConfig, device: torch.device, info: DistInfo) -> Models:
    """The callables the step uses: each model in DDP (several ranks), then compiled."""

    def wrap(m: nn.Module | None) -> nn.Module | None:
        if m is None:
            return None
        net = wrap_ddp(m, device, info, broadcast_buffers=not cfg.sync_batchnorm)
        return torch.compile(net) if cfg.compile else net

    return Models(*(wrap(m) for m in (models.g_ab, models.g_ba, models.d_a, models.d_b)))


def build_session(
    cfg: TrainConfig, device: torch.device, info: DistInfo = SINGLE, *, tuned: bool = True
) -> Session:
    """Models (seeded with ``cfg.seed``), optimisers and pools for ``cfg`` on ``device``;
    with several ranks (``info``), the models the step calls are DDP-wrapped.

    ``tuned=False`` leaves out cg's CPU fast paths (fused Adam, the allocator setting, the
    channels_last BatchNorm gradients) and keeps PyTorch's defaults: the same computation, as
    a plain PyTorch training loop such as the reference implementation's runs it. ``cg bench``
    measures against it.
    """
    if cfg.channels_last is None:  # a config not resolved against its data: cg's default
        layout = default_channels_last(device, cfg.norm, cfg.batch_size)
        cfg = dataclasses.replace(cfg, channels_last=layout)
    seed_everything(cfg.seed)
    pix2pix = cfg.objective == "pix2pix"
    g_ab = build_generator(cfg)
    g_ba = None if pix2pix else build_generator(cfg)
    d_a = d_b = None
    if cfg.adversarial:
        d_b = build_discriminator(cfg, in_channels=6 if pix2pix else 3)
        d_a = None if pix2pix else build_discriminator(cfg, in_channels=3)
    models = Models(g_ab, g_ba, d_a, d_b)
    if info.enabled and cfg.sync_batchnorm:
        models = Models(
            *(
                convert_sync_batchnorm(m, device) if m is not None else None
                for m in (models.g_ab, models.g_ba, models.d_a, models.d_b)
            )
        )
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    for _, m in models.items():
        m.to(device=device, memory_format=fmt)
        if tuned and cfg.channels_last and device.type == "cpu":
            channels_last_batchnorm_grads(m)
    if tuned and device.type == "cpu":
        tune_cpu_allocator()
    # fused: one kernel per step on CPU and CUDA (4.4x faster than foreach for unet_128 on CPU);
    # untuned, Adam chooses: foreach on CUDA, one tensor at a time on the CPU
    if not tuned:
        fused = {}
    else:
        fused = {"fused": True} if device.type in ("cpu", "cuda") else {"foreach": True}
    adam = functools.partial(torch.optim.Adam, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), **fused)
    opt_g = adam([p for m in models.generators() for p in m.parameters()])
    discs = models.discriminators()
    opt_d = adam([p for m in discs for p in m.parameters()]) if discs else None
    scaler = torch.amp.GradScaler("cuda") if cfg.precision == "fp16" else None
    train_models = _train_view(models, cfg, device, info) if info.enabled or cfg.compile else models
    optim = Optim(opt_g, opt_d, scaler, autocast=functools.partial(autocast, device, cfg.precision))
    pools = {"a": ImagePool(cfg.pool_size), "b": ImagePool(cfg.pool_size)}
    return Session(cfg, device, models, optim, pools, train_models)
