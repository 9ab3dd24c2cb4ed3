"""The report's losses (R2) as pure functions of tensors.

Notation: ``real_a``, ``real_b`` are batches from domains A and B; ``fake_b = G_AB(real_a)``,
``fake_a = G_BA(real_b)``, ``rec_a = G_BA(fake_b)``, ``rec_b = G_AB(fake_a)``.
``|x|_1`` is the mean absolute value over all elements (PyTorch's ``l1_loss``).
Each function returns the *unweighted* loss; :func:`generator_loss` weighs them with the
weights of :class:`cg.config.TrainConfig` (``lambda_cycle`` = 10, ``lambda_identity`` = 5,
``lambda_adv`` = 1). The step functions of :mod:`cg.train.steps` build every loss from these.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cg.errors import UserError


def cycle_term(real: torch.Tensor, rec: torch.Tensor) -> torch.Tensor:
    """One chain's cycle term: ``|G_YX(G_XY(x)) - x|_1 = |rec - x|_1``."""
    return F.l1_loss(rec, real)


def cycle_loss(
    real_a: torch.Tensor, rec_a: torch.Tensor, real_b: torch.Tensor, rec_b: torch.Tensor
) -> torch.Tensor:
    """Cycle consistency (R2, weight 10)::

    L_cyc = |G_BA(G_AB(A)) - A|_1 + |G_AB(G_BA(B)) - B|_1 = |rec_a - A|_1 + |rec_b - B|_1
    """
    return cycle_term(real_a, rec_a) + cycle_term(real_b, rec_b)


def paired_identity_term(fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """One direction's term of the re-thought identity loss: ``|G_XY(x) - y|_1``."""
    return F.l1_loss(fake, target)


def paired_identity_loss(
    fake_b: torch.Tensor, real_b: torch.Tensor, fake_a: torch.Tensor, real_a: torch.Tensor
) -> torch.Tensor:
    """The report's "re-thought" identity loss (R2, weight 5), which needs paired data::

        L_idt = |G_AB(A) - B|_1 + |G_BA(B) - A|_1 = |fake_b - B|_1 + |fake_a - A|_1

    ``fake_b`` / ``fake_a`` are the same forward passes the cycle and adversarial losses use.
    Whether the data is paired is decided with the config (:func:`cg.data.loaders.resolve_config`).
    """
    return paired_identity_term(fake_b, real_b) + paired_identity_term(fake_a, real_a)


def classic_identity_loss(
    idt_b: torch.Tensor, real_b: torch.Tensor, idt_a: torch.Tensor, real_a: torch.Tensor
) -> torch.Tensor:
    """CycleGAN's identity loss (Zhu et al. 2017), usable on unpaired data::

    L_idt = |G_AB(B) - B|_1 + |G_BA(A) - A|_1 = |idt_b - B|_1 + |idt_a - A|_1
    """
    return F.l1_loss(idt_b, real_b) + F.l1_loss(idt_a, real_a)


def generator_loss(
    cycle: torch.Tensor,
    identity: torch.Tensor | None,
    adv: torch.Tensor | None,
    *,
    lambda_cycle: float,
    lambda_identity: float,
    lambda_adv: float,
) -> torch.Tensor:
    """The generators' objective (R2), the one place its weights are applied::

        L_G = lambda_cycle L_cyc + lambda_identity L_idt + lambda_adv L_adv      (10, 5, 1)

    ``identity`` / ``adv`` are None for a run without them. The sum is linear, so it holds for
    the whole objective and for each chain's share of it alike.
    """
    loss = lambda_cycle * cycle
    if identity is not None:
        loss = loss + lambda_identity * identity
    if adv is not None:
        loss = loss + lambda_adv * adv
    return loss


def adversarial_loss(logits: torch.Tensor, target_real: bool, mode: str = "bce") -> torch.Tensor:
    """GAN loss on a PatchGAN's patch scores (R2, weight 1).

    ``logits`` are the discriminator's pre-sigmoid outputs ``z`` (``D(x) = sigmoid(z)``).

    - ``bce`` (the report): binary cross-entropy on the sigmoid output, computed stably from the
      logits: ``-mean(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z)))`` with ``y = 1`` for
      "real", ``0`` for "fake".
    - ``lsgan`` (Mao et al., the reference CycleGAN's default): ``mean((z - y)^2)``.

    The generator uses ``target_real=True`` on its fakes; the discriminator uses True on real
    and False on generated images.
    """
    target = torch.ones_like(logits) if target_real else torch.zeros_like(logits)
    if mode == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise UserError(f"gan_mode={mode!r} must be bce or lsgan")


def discriminator_loss(
    logits_real: torch.Tensor, logits_fake: torch.Tensor, mode: str = "bce"
) -> torch.Tensor:
    """``L_D = (L_adv(D(real), real) + L_adv(D(fake), fake)) / 2``, halved as the reference does."""
    return 0.5 * (
        adversarial_loss(logits_real, True, mode) + adversarial_loss(logits_fake, False, mode)
    )


def pix2pix_l1_loss(fake_b: torch.Tensor, real_b: torch.Tensor) -> torch.Tensor:
    """pix2pix's reconstruction term (weight ``lambda_l1`` = 100): ``|G(A) - B|_1``."""
    return F.l1_loss(fake_b, real_b)
