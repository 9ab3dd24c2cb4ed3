"""The generators' BatchNorm running statistics: recomputed for the current weights
(``precise_bn``), because training's moving averages lag them (cg.train.batchnorm)."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers import TINY
from torch import nn

from cg.checkpoints import load_checkpoint
from cg.config import config_from_dict, make_config
from cg.data import DomainDataset, scan_dataset
from cg.eval.metrics import pixel_error
from cg.models import UNet, build_generator
from cg.train.batchnorm import recompute_running_stats
from cg.train.loop import train
from cg.translate import load_generator, translate_batch


def _unet(seed: int = 0) -> UNet:
    torch.manual_seed(seed)
    return UNet(3, 3, base_channels=4)


def _images(n: int, seed: int, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1


def _batch_statistics(model: nn.Module, x: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
    """Per BatchNorm layer, the mean and unbiased variance of its input in a training-mode
    forward of ``x`` (what one moving-average update takes in), computed here by hooks."""
    found: list[tuple[torch.Tensor, ...]] = []

    def hook(_m: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        v = args[0].transpose(0, 1).flatten(1).double()
        found.append((v.mean(1), v.var(1, unbiased=True)))

    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    handles = [m.register_forward_pre_hook(hook) for m in bns]
    try:
        with torch.no_grad():
            model.train()(x)
    finally:
        for h in handles:
            h.remove()
    return found


def test_recomputed_statistics_are_the_mean_of_each_batchs_statistics(one_thread):
    model = _unet()
    model.eval()
    batches = [_images(4, seed) for seed in (1, 2, 3)]
    # the statistics each batch gives under the current weights (from a copy: the hooks' forward
    # moves the copy's running averages, not the model's)
    per_batch = [_batch_statistics(copy.deepcopy(model), b) for b in batches]
    momenta = [m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)]

    assert recompute_running_stats(model, batches) == 3

    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for k, bn in enumerate(bns):
        mean = torch.stack([stats[k][0] for stats in per_batch]).mean(0)
        var = torch.stack([stats[k][1] for stats in per_batch]).mean(0)
        torch.testing.assert_close(bn.running_mean.double(), mean, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(bn.running_var.double(), var, rtol=1e-4, atol=1e-5)
    assert not model.training  # its mode and the layers' momenta are as they were
    assert [bn.momentum for bn in bns] == momenta
    assert recompute_running_stats(model, []) == 0
    assert recompute_running_stats(nn.Conv2d(3, 3, 1), batches) == 0  # no BatchNorm: no-op


def test_moving_averages_lag_the_weights_and_recomputing_matches_them(one_thread):
    """The cause of an evaluated generator that is not the function training shaped: after a
    few steps whose weights move fast (few steps per epoch, or a high learning rate), eval mode
    with the moving averages gives other outputs than the network's own statistics; with the
    statistics recomputed it gives the outputs of normalising by the current statistics."""
    model = _unet(3)
    x, y = _images(8, 10), _images(8, 11)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.5, 0.999))
    for _ in range(6):  # what a short epoch does: the averages mix earlier weights' statistics
        opt.zero_grad()
        nn.functional.l1_loss(model.train()(x), y).backward()
        opt.step()
    with torch.no_grad():
        batch_stats = model.train()(x)  # normalised by the current weights' statistics of x
        lagging = model.eval()(x)
        recompute_running_stats(model, [x])
        recomputed = model.eval()(x)
    lag = (lagging - batch_stats).abs().mean().item()
    left = (recomputed - batch_stats).abs().mean().item()
    # what is left is the unbiased variance of the running statistics (N / (N - 1))
    assert left < 0.01
    assert lag > 10 * left


@pytest.fixture(scope="module")
def runs(synth, tmp_path_factory):
    """The same 2-epoch paired run with and without precise_bn."""
    data = synth("edges2shoes", n_train=8, n_val=4)
    out = {}
    for precise in (True, False):
        cfg = make_config(
            "edges2shoes",
            **{**TINY, "feedback_subset": 6},
            data=str(data),
            epochs=2,
            adversarial=False,
            lr=0.005,
            device="cpu",
            seed=4,
            precise_bn=precise,
        )
        folder = tmp_path_factory.mktemp(f"precise-{precise}")
        history = train(cfg, folder, progress=False, quiet=True)
        out[precise] = (folder, history)
    return data, out


def test_precise_bn_changes_the_statistics_but_not_training(runs):
    _, out = runs
    on, off = (load_checkpoint(out[p][0] / "checkpoints" / "last.pt") for p in (True, False))
    for name in ("g_ab", "g_ba"):
        a, b = on["models"][name], off["models"][name]
        for key in a:
            if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
                continue
            assert torch.equal(a[key], b[key]), f"{name}.{key}"  # the same steps, bitwise
        assert any(not torch.equal(a[k], b[k]) for k in a if k.endswith("running_var")), (
            f"{name}: precise_bn left the moving averages"
        )
    # the training losses are the same; the evaluated models (and so the metrics) are not
    h_on, h_off = out[True][1], out[False][1]
    assert h_on["loss_g"].tolist() == h_off["loss_g"].tolist()
    assert h_on["pixel_error_ab_val"].tolist() != h_off["pixel_error_ab_val"].tolist()


def test_checkpoint_holds_the_statistics_of_its_weights_on_the_training_subset(runs):
    """With precise_bn, a checkpoint's generators normalise with the statistics their own
    weights give on the first feedback_subset training images, in batches of batch_size."""
    data, out = runs
    state = load_checkpoint(out[True][0] / "checkpoints" / "last.pt")
    cfg = config_from_dict(state["config"])
    files = scan_dataset(data)
    subset = files.train_a[: cfg.feedback_subset]
    for name, half in (("g_ab", "a"), ("g_ba", "b")):
        ds = DomainDataset(subset, cfg.image_size, half=half)
        images = torch.stack([ds[i] for i in range(len(ds))])
        g = build_generator(cfg)
        g.load_state_dict(state["models"][name])
        expected = copy.deepcopy(g)
        recompute_running_stats(expected, images.split(cfg.batch_size))  # batches 4 and 2
        for (key, got), want in zip(g.state_dict().items(), expected.state_dict().values()):
            if key.endswith(("running_mean", "running_var")):
                torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5, msg=f"{name}.{key}")


def test_val_subset_measures_the_curves_on_the_first_validation_images(synth, tmp_path):
    """``val_subset=N``: each epoch's validation metrics are those of the first N validation
    images (of the checkpoint written at that epoch), the same images every epoch."""
    data = synth("edges2shoes", n_train=8, n_val=6)
    cfg = make_config(
        "edges2shoes", **TINY, data=str(data), epochs=1, device="cpu", seed=2, val_subset=2
    )
    history = train(cfg, tmp_path / "run", progress=False, quiet=True)
    g, _ = load_generator(tmp_path / "run" / "checkpoints" / "last.pt", "ab")
    files = scan_dataset(str(data)).val_a
    assert len(files) == 6
    a, b = (torch.stack([DomainDataset(files, 32, half=h)[i] for i in range(6)]) for h in "ab")
    with torch.inference_mode():
        errors = pixel_error(translate_batch(g, a), b)
    assert history["pixel_error_ab_val"].iloc[0] == pytest.approx(float(errors[:2].mean()))
    assert float(errors[:2].mean()) != pytest.approx(float(errors.mean()))


def test_train_subset_measures_the_training_curves_only(synth, tmp_path):
    """``train_subset=N``: the training-split metrics read the first N images of the feedback
    subset; the BatchNorm statistics still come from all of it, so the checkpoints, and every
    validation metric, are those of a run measured on the whole subset."""
    data = synth("edges2shoes", n_train=8, n_val=4)
    runs = {}
    for n in (0, 2):
        cfg = make_config(
            "edges2shoes", **TINY, data=str(data), epochs=1, device="cpu", seed=2, train_subset=n
        )
        runs[n] = train(cfg, tmp_path / f"run{n}", progress=False, quiet=True)
    weights = [
        torch.load(tmp_path / f"run{n}" / "checkpoints" / "last.pt", weights_only=True)["models"]
        for n in (0, 2)
    ]
    for name, state in weights[0].items():
        for key, value in state.items():
            assert torch.equal(value, weights[1][name][key]), f"{name}.{key}"
    full, part = runs[0].iloc[0], runs[2].iloc[0]
    assert full["pixel_error_ab_val"] == part["pixel_error_ab_val"]
    assert full["pixel_error_ab_train"] != pytest.approx(part["pixel_error_ab_train"])
