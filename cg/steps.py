"""One optimisation step per objective, as functions that return detached loss tensors.

The step functions receive everything they use as arguments (models, optimisers, config) and
return ``{name: 0-dim tensor}``; the loop averages them without a host sync per step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cg.config import TrainConfig
from cg.losses import (
    adversarial_loss,
    classic_identity_loss,
    cycle_loss,
    discriminator_loss,
    paired_identity_loss,
    pix2pix_l1_loss,
)


class ImagePool:
    """A buffer of earlier generated images for the discriminator (Shrivastava et al. 2017).

    As in the reference CycleGAN: while not full, images are stored and returned; afterwards
    each image is, with probability 1/2, swapped with a random stored one (the stored one is
    returned), else returned as is. ``size`` 0 disables the pool. Randomness: torch's RNG.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(()).item() > 0.5:
                i = int(torch.randint(0, self.size, ()).item())
                out.append(self.images[i].clone())
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict:
        return {"size": self.size, "images": [t.cpu() for t in self.images]}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        self.size = int(state["size"])
        self.images = [t.to(device) for t in state["images"]]


@dataclass
class Models:
    """The networks of a run. ``d_a``/``d_b`` are None without the adversarial loss; ``g_ba``
    and ``d_a`` are None for the pix2pix objective (whose ``d_b`` is conditional)."""

    g_ab: nn.Module
    g_ba: nn.Module | None
    d_a: nn.Module | None
    d_b: nn.Module | None

    def items(self) -> list[tuple[str, nn.Module]]:
        named = [("g_ab", self.g_ab), ("g_ba", self.g_ba), ("d_a", self.d_a), ("d_b", self.d_b)]
        return [(k, m) for k, m in named if m is not None]

    def generators(self) -> list[nn.Module]:
        return [m for k, m in self.items() if k.startswith("g_")]

    def discriminators(self) -> list[nn.Module]:
        return [m for k, m in self.items() if k.startswith("d_")]


@dataclass
class Optim:
    g: torch.optim.Optimizer
    d: torch.optim.Optimizer | None
    scaler: torch.amp.GradScaler | None = None
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext


def _set_requires_grad(modules: list[nn.Module], flag: bool) -> None:
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)


def _no_sync(modules: list[nn.Module]) -> contextlib.ExitStack:
    """Forwards whose weights get no gradient (a frozen D in the G step): under DDP, tell each
    wrapper not to expect a gradient sync (its ``no_sync``); else nothing."""
    stack = contextlib.ExitStack()
    for m in modules:
        if hasattr(m, "no_sync"):
            stack.enter_context(m.no_sync())
    return stack


def _backward_step(loss: torch.Tensor, opt: torch.optim.Optimizer, o: Optim) -> None:
    opt.zero_grad(set_to_none=True)
    if o.scaler is not None:
        o.scaler.scale(loss).backward()
        o.scaler.step(opt)
    else:
        loss.backward()
        opt.step()


def cyclegan_step(
    real_a: torch.Tensor,
    real_b: torch.Tensor,
    m: Models,
    o: Optim,
    pools: dict[str, ImagePool],
    cfg: TrainConfig,
) -> dict[str, torch.Tensor]:
    """Generators then discriminators, as the reference CycleGAN (R2 weights)::

        fake_b = G_AB(A), rec_a = G_BA(fake_b), fake_a = G_BA(B), rec_b = G_AB(fake_a)
        L_G = 10 L_cyc + 5 L_idt + 1 (L_adv(D_B(fake_b), real) + L_adv(D_A(fake_a), real))
        L_D = L_D_A + L_D_B, each (L_adv(D(real), real) + L_adv(D(pool(fake)), fake)) / 2
    """
    assert m.g_ba is not None
    out: dict[str, torch.Tensor] = {}
    discs = m.discriminators()
    with o.autocast():
        fake_b = m.g_ab(real_a)
        fake_a = m.g_ba(real_b)
        rec_a = m.g_ba(fake_b)
        rec_b = m.g_ab(fake_a)
        loss_cycle = cycle_loss(real_a, rec_a, real_b, rec_b)
        loss_g = cfg.lambda_cycle * loss_cycle
        if cfg.identity == "paired":
            loss_idt = paired_identity_loss(fake_b, real_b, fake_a, real_a)
        elif cfg.identity == "classic":
            loss_idt = classic_identity_loss(m.g_ab(real_b), real_b, m.g_ba(real_a), real_a)
        else:
            loss_idt = None
        if loss_idt is not None:
            loss_g = loss_g + cfg.lambda_identity * loss_idt
            out["loss_identity"] = loss_idt.detach()
        if discs:
            assert m.d_a is not None and m.d_b is not None
            _set_requires_grad(discs, False)
            with _no_sync(discs):
                loss_adv = adversarial_loss(m.d_b.logits(fake_b), True, cfg.gan_mode)
                loss_adv = loss_adv + adversarial_loss(m.d_a.logits(fake_a), True, cfg.gan_mode)
            loss_g = loss_g + cfg.lambda_adv * loss_adv
            out["loss_adv"] = loss_adv.detach()
    _backward_step(loss_g, o.g, o)
    out["loss_g"] = loss_g.detach()
    out["loss_cycle"] = loss_cycle.detach()
    if discs:
        assert m.d_a is not None and m.d_b is not None and o.d is not None
        _set_requires_grad(discs, True)
        with o.autocast():
            fb = pools["b"].query(fake_b.detach())
            fa = pools["a"].query(fake_a.detach())
            loss_d_b = discriminator_loss(m.d_b.logits(real_b), m.d_b.logits(fb), cfg.gan_mode)
            loss_d_a = discriminator_loss(m.d_a.logits(real_a), m.d_a.logits(fa), cfg.gan_mode)
            loss_d = loss_d_a + loss_d_b
        _backward_step(loss_d, o.d, o)
        out["loss_d"] = loss_d.detach()
    if o.scaler is not None:
        o.scaler.update()
    return out


def pix2pix_step(
    real_a: torch.Tensor,
    real_b: torch.Tensor,
    m: Models,
    o: Optim,
    pools: dict[str, ImagePool],
    cfg: TrainConfig,
) -> dict[str, torch.Tensor]:
    """The pix2pix objective (Isola et al. 2017; the reference's defaults), D first, then G::

        fake_b = G(A)
        L_D = (L_adv(D(cat(A, B)), real) + L_adv(D(cat(A, pool(fake_b))), fake)) / 2
        L_G = L_adv(D(cat(A, fake_b)), real) + 100 |fake_b - B|_1
    """
    out: dict[str, torch.Tensor] = {}
    d = m.d_b
    with o.autocast():
        fake_b = m.g_ab(real_a)
    if d is not None:
        assert o.d is not None
        _set_requires_grad([d], True)
        with o.autocast():
            fake_ab = pools["b"].query(torch.cat([real_a, fake_b], 1).detach())
            loss_d = discriminator_loss(
                d.logits(torch.cat([real_a, real_b], 1)), d.logits(fake_ab), cfg.gan_mode
            )
        _backward_step(loss_d, o.d, o)
        out["loss_d"] = loss_d.detach()
        _set_requires_grad([d], False)
    with o.autocast():
        loss_l1 = pix2pix_l1_loss(fake_b, real_b)
        loss_g = cfg.lambda_l1 * loss_l1
        if d is not None:
            with _no_sync([d]):
                fake_logits = d.logits(torch.cat([real_a, fake_b], 1))
            loss_adv = adversarial_loss(fake_logits, True, cfg.gan_mode)
            loss_g = loss_g + cfg.lambda_adv * loss_adv
            out["loss_adv"] = loss_adv.detach()
    _backward_step(loss_g, o.g, o)
    if o.scaler is not None:
        o.scaler.update()
    out["loss_g"] = loss_g.detach()
    out["loss_l1"] = loss_l1.detach()
    return out
