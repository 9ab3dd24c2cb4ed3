"""The live state of a run: models, optimisers, pools, device; one step, evaluation, samples.

:func:`build_session` creates it from a config (seeded, so initial weights are a function of
``cfg.seed``); :meth:`Session.state_dict` / :meth:`Session.load_state` are what a checkpoint
stores besides the config and history.
"""

from __future__ import annotations

import contextlib
import functools
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cg.config import TrainConfig
from cg.distributed import SINGLE, DistInfo
from cg.distributed import wrap as wrap_ddp
from cg.errors import UserError
from cg.runtime import (
    autocast,
    channels_last_batchnorm_grads,
    eval_mode,
    seed_everything,
    tune_cpu_allocator,
)
from cg.steps import ImagePool, Models, Optim, cyclegan_step, pix2pix_step
from cg.sync_batchnorm import convert_sync_batchnorm


@dataclass
class Session:
    cfg: TrainConfig
    device: torch.device
    models: Models
    optim: Optim
    pools: dict[str, ImagePool]
    train_models: Models  # what the step calls: compiled / DDP-wrapped versions of ``models``
    fid: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

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

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        for m in self.train_models.items():
            m[1].train()
        real_a, real_b = self.prepare(batch["a"]), self.prepare(batch["b"])
        fn = pix2pix_step if self.cfg.objective == "pix2pix" else cyclegan_step
        return fn(real_a, real_b, self.train_models, self.optim, self.pools, self.cfg)

    # --- evaluation ----------------------------------------------------------------------------
    def _run(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.cfg.precision):
            return model(x)

    def evaluate(self, pipeline: Any) -> dict[str, float]:
        from cg.metrics import evaluate

        m = self.models
        row: dict[str, float] = {}
        with eval_mode(*(mod for _, mod in m.items())):
            for split in ("val", "train"):
                row.update(evaluate(
                    pipeline.eval_batches(split), g_ab=m.g_ab, g_ba=m.g_ba, d_a=m.d_a, d_b=m.d_b,
                    paired=pipeline.data_paired, split=split, prepare=self.prepare,
                    conditional=self.cfg.objective == "pix2pix", run=self._run,
                ))
        return row

    def fid_columns(self, pipeline: Any, epoch: int) -> dict[str, float]:
        """``fid_ab_val`` / ``fid_ba_val`` every ``fid_every`` epochs (else nothing)."""
        if not self.cfg.fid_every or epoch % self.cfg.fid_every:
            return {}
        from cg.fid_columns import fid_columns

        return fid_columns(self, pipeline)

    @torch.inference_mode()
    def write_samples(self, pipeline: Any, path: Path) -> None:
        """A grid per direction: ``[output | source]`` rows, training images then validation."""
        from cg.plots import sample_grid, save_image

        n = self.cfg.sample_count
        if n <= 0:
            return
        m = self.models
        with eval_mode(*(mod for _, mod in m.items())):
            parts = {"ab": ([], []), "ba": ([], [])}
            for split in ("train", "val"):
                images = pipeline.samples(split, n)
                for direction, g, key in (("ab", m.g_ab, "a"), ("ba", m.g_ba, "b")):
                    if g is None or key not in images:
                        continue
                    src = images[key]
                    parts[direction][0].append(self._run(g, self.prepare(src)).float().cpu())
                    parts[direction][1].append(src)
            for direction, (outs, srcs) in parts.items():
                if outs:
                    grid = sample_grid(torch.cat(outs), torch.cat(srcs))
                    save_image(grid, path.with_name(f"{path.stem}_{direction}{path.suffix}"))

    # --- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
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
            "models": {k: _cpu_state(m) for k, m in self.models.items()},
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


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


# numpy's and Python's RNG states, as tensors and lists so weights_only loading accepts them.
def _numpy_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached": float(cached)}


def _numpy_restore(s: dict[str, Any]) -> tuple:
    keys = s["keys"].numpy().astype(np.uint32)
    return (s["name"], keys, s["pos"], s["has_gauss"], s["cached"])


def _python_state() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    return {"version": version, "internal": list(internal), "gauss": gauss}


def _python_restore(s: dict[str, Any]) -> tuple:
    return (s["version"], tuple(s["internal"]), s["gauss"])


class Logits(nn.Module):
    """A discriminator seen through its logits: ``forward(x) = d.logits(x)``, so that
    ``torch.compile`` and ``DistributedDataParallel``, which wrap ``forward``, cover them."""

    def __init__(self, d: nn.Module) -> None:
        super().__init__()
        self.d = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.d.logits(x)


class TrainDiscriminator(nn.Module):
    """What the step functions call: ``logits(x)`` runs the wrapped (compiled, DDP) Logits."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def no_sync(self) -> contextlib.AbstractContextManager:
        """DDP's ``no_sync`` (a forward whose weights get no gradient), else a no-op."""
        no_sync = getattr(self.net, "no_sync", None)
        return no_sync() if no_sync is not None else contextlib.nullcontext()


def _train_view(models: Models, cfg: TrainConfig, device: torch.device,
                info: DistInfo) -> Models:
    """The callables the step uses: each model in DDP (several ranks), then compiled."""
    def wrap(m: nn.Module | None, disc: bool) -> nn.Module | None:
        if m is None:
            return None
        net = wrap_ddp(Logits(m) if disc else m, device, info,
                       broadcast_buffers=not cfg.sync_batchnorm)
        net = torch.compile(net) if cfg.compile else net
        return TrainDiscriminator(net) if disc else net

    return Models(wrap(models.g_ab, False), wrap(models.g_ba, False), wrap(models.d_a, True),
                  wrap(models.d_b, True))


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
    from cg.models import build_discriminator, build_generator

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
        models = Models(*(convert_sync_batchnorm(m, device) if m is not None else None
                          for m in (models.g_ab, models.g_ba, models.d_a, models.d_b)))
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
    train_models = _train_view(models, cfg, device, info) if info.enabled or cfg.compile \
        else models
    optim = Optim(opt_g, opt_d, scaler,
                  autocast=functools.partial(autocast, device, cfg.precision))
    pools = {"a": ImagePool(cfg.pool_size), "b": ImagePool(cfg.pool_size)}
    return Session(cfg, device, models, optim, pools, train_models)
