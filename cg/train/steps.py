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
    cycle_term,
    discriminator_loss,
    generator_loss,
    paired_identity_term,
    pix2pix_l1_loss,
)
from cg.train.batchnorm import keep_running_stats


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


def _backward(loss: torch.Tensor, o: Optim) -> None:
    """``loss.backward()``, scaled by the GradScaler when there is one (fp16)."""
    (o.scaler.scale(loss) if o.scaler is not None else loss).backward()


def _optimizer_step(opt: torch.optim.Optimizer, o: Optim) -> None:
    if o.scaler is not None:
        o.scaler.step(opt)
    else:
        opt.step()


def _backward_step(loss: torch.Tensor, opt: torch.optim.Optimizer, o: Optim) -> None:
    opt.zero_grad(set_to_none=True)
    _backward(loss, o)
    _optimizer_step(opt, o)


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

    ``L_G`` is a sum of a term of the A -> B -> A chain (``|rec_a - A|``, ``|fake_b - B|``,
    ``D_B(fake_b)``) and one of the B -> A -> B chain (and, for the classic identity loss, one of
    ``G_AB(B)``, ``G_BA(A)``). Each chain is built and backpropagated before the next one (the
    reference's order of forward passes), so only one chain's activations are alive at a time:
    the same forward passes, gradients and losses, at about half the peak memory. Likewise
    ``L_D_B`` then ``L_D_A``. Under DDP only the last backward of each optimiser syncs.
    """
    assert m.g_ba is not None
    discs = m.discriminators()
    _set_requires_grad(discs, False)
    o.g.zero_grad(set_to_none=True)
    chains = [(real_a, real_b, m.g_ab, m.g_ba, m.d_b), (real_b, real_a, m.g_ba, m.g_ab, m.d_a)]
    weights = {
        "lambda_cycle": cfg.lambda_cycle,
        "lambda_identity": cfg.lambda_identity,
        "lambda_adv": cfg.lambda_adv,
    }
    cycle, identity, adv, fakes = [], [], [], []
    for i, (x, y, g_xy, g_yx, d_y) in enumerate(chains):
        last = i == 1 and cfg.identity != "classic"
        with _no_sync([] if last else m.generators()), o.autocast():
            fake = g_xy(x)
            with keep_running_stats(g_yx):
                rec = g_yx(fake)
            cycle.append(cycle_term(x, rec))
            if cfg.identity == "paired":
                identity.append(paired_identity_term(fake, y))
            if d_y is not None:
                with _no_sync([d_y]):
                    adv.append(adversarial_loss(d_y(fake), True, cfg.gan_mode))
            loss = generator_loss(
                cycle[-1], identity[-1] if identity else None, adv[-1] if adv else None, **weights
            )
        _backward(loss, o)
        fakes.append(fake.detach())
    if cfg.identity == "classic":
        with o.autocast(), keep_running_stats(m.g_ab, m.g_ba):
            loss_idt = classic_identity_loss(m.g_ab(real_b), real_b, m.g_ba(real_a), real_a)
        _backward(cfg.lambda_identity * loss_idt, o)  # generator_loss's identity term
        identity = [loss_idt]
    _optimizer_step(o.g, o)
    out: dict[str, torch.Tensor] = {"loss_cycle": (cycle[0] + cycle[1]).detach()}
    if identity:
        out["loss_identity"] = sum(identity[1:], identity[0]).detach()
    if discs:
        out["loss_adv"] = (adv[0] + adv[1]).detach()
    out["loss_g"] = generator_loss(
        out["loss_cycle"], out.get("loss_identity"), out.get("loss_adv"), **weights
    )
    if discs:
        assert m.d_a is not None and m.d_b is not None and o.d is not None
        _set_requires_grad(discs, True)
        o.d.zero_grad(set_to_none=True)
        fake_b, fake_a = fakes
        loss_d = []
        for d, real, fake, pool in ((m.d_b, real_b, fake_b, "b"), (m.d_a, real_a, fake_a, "a")):
            with o.autocast():
                logits_real = d(real)
                logits_fake = d(pools[pool].query(fake))
                loss_d.append(discriminator_loss(logits_real, logits_fake, cfg.gan_mode))
            _backward(loss_d[-1], o)
        _optimizer_step(o.d, o)
        out["loss_d"] = (loss_d[1] + loss_d[0]).detach()
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
            loss_d = discriminator_loss(d(torch.cat([real_a, real_b], 1)), d(fake_ab), cfg.gan_mode)
        _backward_step(loss_d, o.d, o)
        out["loss_d"] = loss_d.detach()
        _set_requires_grad([d], False)
    with o.autocast():
        loss_l1 = pix2pix_l1_loss(fake_b, real_b)
        loss_g = cfg.lambda_l1 * loss_l1
        if d is not None:
            with _no_sync([d]):
                fake_logits = d(torch.cat([real_a, fake_b], 1))
            loss_adv = adversarial_loss(fake_logits, True, cfg.gan_mode)
            loss_g = loss_g + cfg.lambda_adv * loss_adv
            out["loss_adv"] = loss_adv.detach()
    _backward_step(loss_g, o.g, o)
    if o.scaler is not None:
        o.scaler.update()
    out["loss_g"] = loss_g.detach()
    out["loss_l1"] = loss_l1.detach()
    return out
