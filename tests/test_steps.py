"""The training steps against the documented objective (R2), computed here from scratch.

The reference losses below are written with plain ``torch.nn.functional`` calls and the
report's weights (cycle 10, identity 5, adversarial 1), not with :mod:`cg.losses`: a step
that weighed a term twice, dropped one, or detached a chain would differ.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from helpers import TINY

from cg.config import make_config
from cg.train.state import build_session


def _batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.rand(4, 3, 32, 32, generator=g) * 2 - 1 for k in ("a", "b")}


def _bce_real(logits: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def _reference_objective(models, a, b, identity: str, adversarial: bool) -> torch.Tensor:
    """L_G = 10 L_cyc + 5 L_idt + 1 L_adv, as one graph."""
    g_ab, g_ba, d_a, d_b = models
    fake_b, fake_a = g_ab(a), g_ba(b)
    loss = 10 * (F.l1_loss(g_ba(fake_b), a) + F.l1_loss(g_ab(fake_a), b))
    if identity == "paired":
        loss = loss + 5 * (F.l1_loss(fake_b, b) + F.l1_loss(fake_a, a))
    elif identity == "classic":
        loss = loss + 5 * (F.l1_loss(g_ab(b), b) + F.l1_loss(g_ba(a), a))
    if adversarial:
        loss = loss + _bce_real(d_b(fake_b)) + _bce_real(d_a(fake_a))
    return loss


@pytest.mark.parametrize(
    ("identity", "adversarial"),
    [("paired", True), ("classic", True), ("none", False), ("paired", False)],
)
def test_cyclegan_step_objective_and_gradients_are_the_documented_ones(
    identity: str, adversarial: bool, one_thread
) -> None:
    cfg = make_config(
        **TINY, paired=True, identity=identity, adversarial=adversarial, device="cpu", seed=3
    )
    session = build_session(cfg, torch.device("cpu"))
    m = session.models
    before = [copy.deepcopy(x) for x in (m.g_ab, m.g_ba, m.d_a, m.d_b)]
    batch = _batch()
    out = session.step(batch)

    reference = _reference_objective(before, batch["a"], batch["b"], identity, adversarial)
    reference.backward()
    assert out["loss_g"].item() == pytest.approx(reference.item(), rel=1e-5)
    # the reported total is the weighted sum of the reported (unweighted) parts
    parts = 10 * out["loss_cycle"] + 5 * out.get("loss_identity", 0) + out.get("loss_adv", 0)
    assert out["loss_g"].item() == pytest.approx(float(parts), rel=1e-6)
    assert ("loss_identity" in out) == (identity != "none")
    assert ("loss_adv" in out and "loss_d" in out) == adversarial
    # the generators' gradients (left in .grad by the step) are those of the joint objective
    for got, want in ((m.g_ab, before[0]), (m.g_ba, before[1])):
        for (name, p), q in zip(got.named_parameters(), want.parameters()):
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_the_check_above_sees_a_wrong_weight(one_thread) -> None:
    """The same comparison fails when the step's identity weight is not the documented 5."""
    cfg = make_config(
        **TINY,
        paired=True,
        identity="paired",
        adversarial=True,
        device="cpu",
        seed=3,
        lambda_identity=4.0,
    )
    session = build_session(cfg, torch.device("cpu"))
    m = session.models
    before = [copy.deepcopy(x) for x in (m.g_ab, m.g_ba, m.d_a, m.d_b)]
    batch = _batch()
    out = session.step(batch)
    reference = _reference_objective(before, batch["a"], batch["b"], "paired", True)
    assert out["loss_g"].item() != pytest.approx(reference.item(), rel=1e-5)


def test_pix2pix_step_is_l1_times_100_plus_conditional_gan(one_thread) -> None:
    cfg = make_config(**TINY, paired=True, objective="pix2pix", device="cpu", seed=2)
    session = build_session(cfg, torch.device("cpu"))
    batch = _batch(1)
    g = copy.deepcopy(session.models.g_ab)
    out = session.step(batch)
    d = session.models.d_b  # updated first, as in pix2pix; G's adversarial term sees it
    fake_b = g(batch["a"])
    with torch.no_grad():
        want = 100 * F.l1_loss(fake_b, batch["b"])
        want = want + _bce_real(d(torch.cat([batch["a"], fake_b], 1)))
    assert out["loss_l1"].item() == pytest.approx(F.l1_loss(fake_b, batch["b"]).item(), rel=1e-5)
    assert out["loss_g"].item() == pytest.approx(want.item(), rel=1e-4)


@pytest.mark.parametrize("identity", ["paired", "classic"])
def test_running_statistics_come_from_each_generators_own_domain(identity: str, one_thread):
    """BatchNorm's running statistics are what eval mode (metrics, translate, export) uses, so
    they must come from the inputs a generator translates: G_AB's from real A images only, not
    from the generated A images of the cycle pass nor the B images of the classic identity."""
    cfg = make_config(
        **TINY, paired=True, identity=identity, adversarial=True, device="cpu", seed=5
    )
    session = build_session(cfg, torch.device("cpu"))
    m = session.models
    g_ab, g_ba = copy.deepcopy(m.g_ab), copy.deepcopy(m.g_ba)
    batch = _batch(2)
    session.step(batch)
    with torch.no_grad():  # one train-mode forward on the own domain, from the same start
        g_ab.train()(batch["a"])
        g_ba.train()(batch["b"])
    for got, want in ((m.g_ab, g_ab), (m.g_ba, g_ba)):
        for (name, buf), ref in zip(got.named_buffers(), want.buffers()):
            if name.endswith(("running_mean", "running_var")):
                torch.testing.assert_close(buf, ref, rtol=1e-5, atol=1e-6, msg=name)
