"""The report's losses (R2) as pure functions of tensors.

Notation: ``real_a``, ``real_b`` are batches from domains A and B; ``fake_b = G_AB(real_a)``,
``fake_a = G_BA(real_b)``, ``rec_a = G_BA(fake_b)``, ``rec_b = G_AB(fake_a)``.
``|x|_1`` is the mean absolute value over all elements (PyTorch's ``l1_loss``).
Each function returns the *unweighted* loss; the trainer multiplies by the weights of
:class:`cg.config.TrainConfig` (``lambda_cycle`` = 10, ``lambda_identity`` = 5, ``lambda_adv`` = 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cg.errors import UserError


def cycle_loss(
    real_a: torch.Tensor, rec_a: torch.Tensor, real_b: torch.Tensor, rec_b: torch.Tensor
) -> torch.Tensor:
    """Cycle consistency (R2, weight 10)::

    L_cyc = |G_BA(G_AB(A)) - A|_1 + |G_AB(G_BA(B)) - B|_1 = |rec_a - A|_1 + |rec_b - B|_1
    """
    return F.l1_loss(rec_a, real_a) + F.l1_loss(rec_b, real_b)


def paired_identity_loss(
    fake_b: torch.Tensor, real_b: torch.Tensor, fake_a: torch.Tensor, real_a: torch.Tensor
) -> torch.Tensor:
    """The report's "re-thought" identity loss (R2, weight 5), which needs paired data::

        L_idt = |G_AB(A) - B|_1 + |G_BA(B) - A|_1 = |fake_b - B|_1 + |fake_a - A|_1

    ``fake_b`` / ``fake_a`` are the same forward passes the cycle and adversarial losses use.
    """
    return F.l1_loss(fake_b, real_b) + F.l1_loss(fake_a, real_a)


def classic_identity_loss(
    idt_b: torch.Tensor, real_b: torch.Tensor, idt_a: torch.Tensor, real_a: torch.Tensor
) -> torch.Tensor:
    """CycleGAN's identity loss (Zhu et al. 2017), usable on unpaired data::

    L_idt = |G_AB(B) - B|_1 + |G_BA(A) - A|_1 = |idt_b - B|_1 + |idt_a - A|_1
    """
    return F.l1_loss(idt_b, real_b) + F.l1_loss(idt_a, real_a)


def identity_loss(kind: str, *, paired: bool, **tensors: torch.Tensor) -> torch.Tensor:
    """Dispatch on ``kind`` (``paired`` | ``classic``); the paired kind on unpaired data fails."""
    if kind == "paired":
        if not paired:
            raise UserError(
                "the re-thought identity loss |G_AB(A)-B| needs paired data; "
                "use identity='classic' or 'none' for unpaired training"
            )
        return paired_identity_loss(
            tensors["fake_b"], tensors["real_b"], tensors["fake_a"], tensors["real_a"]
        )
    if kind == "classic":
        return classic_identity_loss(
            tensors["idt_b"], tensors["real_b"], tensors["idt_a"], tensors["real_a"]
        )
    raise UserError(f"identity={kind!r} has no loss; choose paired or classic")


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
