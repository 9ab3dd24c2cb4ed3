"""Importing generators saved by the reference implementation (pytorch-CycleGAN-and-pix2pix).

Most reference files are made here as the reference writes them: a generator with the
reference's module layout (cg's own classes), its ``state_dict`` saved raw with ``torch.save``,
keys prefixed ``module.`` (a DataParallel model) and the InstanceNorm buffers that PyTorch < 0.4
wrote. Those prove a round trip; the tests at the end use ``tests/fixtures/reference``: files
written by the reference's own ``models/networks.py`` with its inputs and outputs (see the
README there), so they prove that cg loads its real files and computes its function.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from cg.checkpoints import load_checkpoint, save_checkpoint
from cg.cli import main
from cg.config import config_from_dict
from cg.errors import UserError
from cg.models import ResnetGenerator, UnetGenerator, build_generator, init_weights
from cg.models.official import guess_generator, import_official
from cg.translate import load_generator

NGF = 8
SIDE = {"resnet_9": 32, "resnet_6": 32, "unet_128": 128, "unet_256": 256}


def reference_generator(generator: str, norm: str) -> nn.Module:
    """A trained-looking reference generator: random weights and BatchNorm statistics."""
    torch.manual_seed(sum(map(ord, generator + norm)))
    if generator.startswith("resnet"):
        net = ResnetGenerator(3, 3, NGF, norm=norm, n_blocks=int(generator[-1]))
    else:
        net = UnetGenerator(3, 3, 7 if generator == "unet_128" else 8, NGF, norm=norm)
    init_weights(net, gain=0.1)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(1000)
    return net.eval()


def save_reference(net: nn.Module, path, *, prefix: str = "module.", stale: bool = True):
    """torch.save the state_dict as the reference does, with DataParallel and pre-0.4 traces."""
    state = OrderedDict((prefix + k, v) for k, v in net.state_dict().items())
    if stale:
        for name, m in net.named_modules():
            if isinstance(m, nn.InstanceNorm2d):
                c = m.num_features
                state[f"{prefix}{name}.running_mean"] = torch.zeros(c)
                state[f"{prefix}{name}.running_var"] = torch.ones(c)
                state[f"{prefix}{name}.num_batches_tracked"] = torch.tensor(7)
    state._metadata = OrderedDict({"": {"version": 1}})
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    ("generator", "norm"),
    [
        ("resnet_9", "instance"),
        ("resnet_6", "batch"),
        ("unet_128", "batch"),
        ("unet_256", "instance"),
    ],
)
def test_import_reproduces_the_reference_outputs(tmp_path, generator, norm):
    ref = reference_generator(generator, norm)
    src = save_reference(ref, tmp_path / "latest_net_G.pth")
    out = import_official(src, generator, None, tmp_path / "g.pt")
    data = load_checkpoint(out)
    cfg = config_from_dict(data["config"])
    assert (cfg.generator, cfg.norm, cfg.base_channels, cfg.dropout) == (
        generator,
        norm,
        NGF,
        False,
    )
    assert cfg.image_size == (128 if generator == "unet_128" else 256)
    assert data["epoch"] == 0 and set(data["models"]) == {"g_ab"}
    assert data["extra"] == {"imported_from": str(src), "source": "pytorch-CycleGAN-and-pix2pix"}
    g = build_generator(cfg)  # what `cg translate` does
    g.load_state_dict(data["models"]["g_ab"])
    g.eval()
    x = torch.rand(2, 3, SIDE[generator], SIDE[generator]) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(g(x), ref(x), rtol=0, atol=1e-6)


def test_batchnorm_files_from_before_num_batches_tracked_import(tmp_path):
    ref = reference_generator("resnet_6", "batch")
    state = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "old.pth")
    out = import_official(tmp_path / "old.pth", "resnet_6", "batch", tmp_path / "g.pt", "ba")
    data = load_checkpoint(out)
    assert set(data["models"]) == {"g_ba"}
    g = build_generator(config_from_dict(data["config"]))
    g.load_state_dict(data["models"]["g_ba"])
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(g.eval()(x), ref(x), rtol=0, atol=1e-6)


def test_wrong_generator_names_the_mismatch_and_the_right_one(tmp_path):
    src = save_reference(reference_generator("resnet_6", "instance"), tmp_path / "G_A.pth")
    with pytest.raises(UserError, match="pass --generator resnet_6 .*missing: model.16.conv_block"):
        import_official(src, "resnet_9", None, tmp_path / "g.pt")
    with pytest.raises(UserError, match="no 4-d model.model.0.weight.*pass --generator resnet_6"):
        import_official(src, "unet_256", None, tmp_path / "g.pt")
    unet = save_reference(reference_generator("unet_128", "batch"), tmp_path / "u.pth")
    with pytest.raises(UserError, match="does not fit a unet_256.*pass --generator unet_128"):
        import_official(unet, "unet_256", None, tmp_path / "g.pt")
    assert not (tmp_path / "g.pt").exists()


def test_guess_generator_from_keys():
    for name in ("resnet_9", "resnet_6", "unet_128", "unet_256"):
        norm = "instance" if name.startswith("resnet") else "batch"
        assert guess_generator(reference_generator(name, norm).state_dict()) == name
    assert guess_generator({"model.0.weight": torch.zeros(1)}) is None


def test_explicit_norm_must_match_the_file(tmp_path):
    src = save_reference(reference_generator("resnet_6", "instance"), tmp_path / "G.pth")
    with pytest.raises(UserError, match="saved with instance norm.*--norm instance"):
        import_official(src, "resnet_6", "batch", tmp_path / "g.pt")
    out = import_official(src, "resnet_6", "instance", tmp_path / "g.pt")
    assert load_checkpoint(out)["config"]["norm"] == "instance"


def test_files_that_are_not_reference_generators(tmp_path):
    with pytest.raises(UserError, match="is not a file"):
        import_official(tmp_path / "nope.pth", "resnet_9", None, tmp_path / "g.pt")
    disc = nn.Sequential(nn.Conv2d(3, 8, 4), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 4))
    torch.save(disc.state_dict(), tmp_path / "latest_net_D.pth")
    with pytest.raises(UserError, match="does not look like a reference generator"):
        import_official(tmp_path / "latest_net_D.pth", "resnet_9", None, tmp_path / "g.pt")
    torch.save(disc, tmp_path / "pickled_module.pth")  # a whole pickled model, not weights
    with pytest.raises(UserError, match="cannot read .* as a weights-only state_dict"):
        import_official(tmp_path / "pickled_module.pth", "resnet_9", None, tmp_path / "g.pt")
    save_checkpoint(tmp_path / "cg.pt", {"config": {}, "epoch": 0, "models": {}})
    with pytest.raises(UserError, match="already a cg checkpoint"):
        import_official(tmp_path / "cg.pt", "resnet_9", None, tmp_path / "g.pt")
    gray = ResnetGenerator(1, 1, NGF, norm="instance", n_blocks=6)
    torch.save(gray.state_dict(), tmp_path / "gray.pth")
    with pytest.raises(UserError, match="1 input channels"):
        import_official(tmp_path / "gray.pth", "resnet_6", None, tmp_path / "g.pt")
    src = save_reference(reference_generator("resnet_6", "batch"), tmp_path / "same.pth")
    with pytest.raises(UserError, match="is the input file"):
        import_official(src, "resnet_6", None, src)


def test_cli_imports_and_reports(tmp_path, capsys):
    src = save_reference(reference_generator("resnet_9", "instance"), tmp_path / "5_net_G_B.pth")
    out = tmp_path / "ckpt" / "g.pt"
    code = main(["import-official", str(src), "--generator", "resnet_9", "--out", str(out)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and out.is_file()
    assert lines[0].startswith("imported resnet_9 (base channels 8, instance norm,")
    assert "--direction ba" in lines[1]  # the file name says G_B
    n = sum(p.numel() for p in ResnetGenerator(3, 3, NGF, norm="instance", n_blocks=9).parameters())
    assert f"{n:,} parameters" in lines[0]


def test_cli_wrong_generator_is_one_error_line(tmp_path, capsys):
    src = save_reference(reference_generator("resnet_6", "batch"), tmp_path / "latest_net_G.pth")
    args = ["import-official", str(src), "--generator", "unet_128", "--out", str(tmp_path / "g")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "resnet_6" in err
    assert main(["import-official", str(src), "--generator", "resnet_7", "--out", "g.pt"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


# Files written by the reference implementation itself (tests/fixtures/reference/README.md).
REFERENCE = Path(__file__).parent / "fixtures" / "reference"
REAL = (
    "resnet_6_batch",
    "resnet_9_instance",
    "unet_128_batch",
    "unet_256_instance",
    "resnet_6_instance_dropout",
)


def real_fixture(name: str) -> tuple[Path, dict, torch.Tensor]:
    """The reference's ``<name>_net_G.pth``, its ``<name>_io.pth`` and the input in [-1, 1]."""
    io = torch.load(REFERENCE / f"{name}_io.pth", weights_only=True)
    x = io["input_u8"].float() / 127.5 - 1  # how the fixture's input was made from the image
    return REFERENCE / f"{name}_net_G.pth", io, x


def run_generator(g: nn.Module, x: torch.Tensor, io: dict) -> torch.Tensor:
    """``g(x)`` at the pixels the fixture stores (every ``output_step``-th row and column)."""
    step = io["output_step"]
    with torch.no_grad():
        return g(x)[:, :, ::step, ::step]


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name", REAL)
def test_cli_imports_real_reference_files_and_reproduces_their_outputs(tmp_path, name):
    src, io, x = real_fixture(name)
    assert guess_generator(torch.load(src, weights_only=True)) == io["generator"]
    out = tmp_path / "g.pt"
    args = ["import-official", str(src), "--generator", io["generator"], "--out", str(out)]
    assert main(args) == 0
    cfg = load_checkpoint(out)["config"]
    assert (cfg["generator"], cfg["norm"], cfg["base_channels"]) == (
        io["generator"],
        io["norm"],
        io["ngf"],
    )
    assert cfg["dropout"] == io["dropout"]  # only a ResNet's dropout shows in its keys
    g, _ = load_generator(out, "ab", "cpu")
    expected = io["output"]
    assert expected.std(dim=(2, 3)).mean() > 0.03  # the output depends on the input's pixels
    torch.testing.assert_close(run_generator(g, x, io), expected, atol=1e-5, rtol=1e-5)
    # The comparison can fail: a fresh generator of the same config is far from the reference.
    torch.manual_seed(0)
    fresh = build_generator(config_from_dict(cfg)).eval()
    assert (run_generator(fresh, x, io) - expected).abs().max() > 1e-2


@pytest.mark.usefixtures("one_thread")
def test_real_reference_file_imports_as_g_ba(tmp_path):
    src, io, x = real_fixture("unet_128_batch")
    out = tmp_path / "g.pt"
    args = ["import-official", str(src), "--generator", "unet_128", "--direction", "ba"]
    assert main([*args, "--out", str(out)]) == 0
    data = load_checkpoint(out)
    assert set(data["models"]) == {"g_ba"}
    assert (data["config"]["norm"], data["config"]["base_channels"]) == ("batch", io["ngf"])
    with pytest.raises(UserError, match="no g_ab generator"):
        load_generator(out, "ab", "cpu")
    g, _ = load_generator(out, "ba", "cpu")
    torch.testing.assert_close(run_generator(g, x, io), io["output"], atol=1e-5, rtol=1e-5)
