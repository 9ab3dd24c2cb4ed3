"""Import generators trained by the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix).

The reference saves each network as a raw ``state_dict`` (``latest_net_G.pth`` for pix2pix,
``latest_net_G_A.pth`` / ``latest_net_G_B.pth`` for CycleGAN). :func:`import_official` reads one
with ``torch.load(weights_only=True)`` and cleans it as the reference's loader does:

* the ``_metadata`` attribute is dropped and ``module.`` prefixes (DataParallel) stripped;
* stale InstanceNorm buffers from PyTorch < 0.4 (``running_mean``, ``running_var``,
  ``num_batches_tracked`` of a norm layer that tracks no statistics) are deleted, like the
  reference's ``__patch_instance_norm_state_dict``; BatchNorm layers saved before
  ``num_batches_tracked`` existed get it back as 0.

The base channel count (``--ngf``) is read from the first convolution's weight, shape
(ngf, 3, k, k): ``model.1.weight`` for the ResNet, ``model.model.0.weight`` for the U-Net. The
norm is inferred when not given: with instance norm that convolution has a bias, with batch
norm it has none and the norm layers have weights and running statistics. A ResNet built with
dropout (pix2pix's default; CycleGAN's is ``--no_dropout``) is recognised by its shifted keys
(:func:`infer_dropout`). Every key and shape is then checked against
:func:`cg.models.build_generator`'s model before anything is written; the result is a cg
checkpoint whose ``g_ab`` (or ``g_ba``) computes the reference model's function (in eval mode).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import torch
from torch import nn

from cg.checkpoints import FORMAT, save_checkpoint
from cg.config import Generator, TrainConfig, make_config
from cg.errors import UserError
from cg.models import build_generator

GENERATORS = tuple(g for g in get_args(Generator) if g != "unet")  # the reference's
SOURCE = "pytorch-CycleGAN-and-pix2pix"

# The first convolution (ngf, 3, k, k) and the first norm layer of each family.
_FIRST_CONV = {"resnet": "model.1", "unet": "model.model.0"}
_FIRST_NORM = {"resnet": "model.2", "unet": "model.model.1.model.2"}


def _family(generator: str) -> str:
    if generator not in GENERATORS:
        raise UserError(f"--generator {generator!r} is not one of {', '.join(GENERATORS)}")
    return "resnet" if generator.startswith("resnet") else "unet"


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A reference ``.pth`` as a plain ``{key: tensor}``, without ``_metadata`` or ``module.``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} is not a file; give a reference latest_net_G.pth or *_net_G_A.pth")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"cannot read {path} as a weights-only state_dict: {first[:300]}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} holds a {type(data).__name__}, not a state_dict of tensors")
    if data.get("format") == FORMAT:
        raise UserError(f"{path} is already a cg checkpoint; use it directly")
    odd = [k for k, v in data.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if odd or not data:
        raise UserError(
            f"{path} is not a state_dict of tensors as the reference saves them "
            f"(entries that are not tensors: {', '.join(map(str, odd[:5])) or 'none; it is empty'})"
        )
    if all(k.startswith("module.") for k in data):
        data = {k[len("module.") :]: v for k, v in data.items()}
    return dict(data)  # a plain dict: the OrderedDict's _metadata is left behind


def guess_generator(state: dict[str, torch.Tensor]) -> str | None:
    """Which reference generator the keys describe (``resnet_9``, ``unet_256``, ...), if known."""
    if any(k.startswith("model.model.") for k in state):
        levels = max(k.split(".").count("model") for k in state) - 1
        return f"unet_{2**levels}"
    blocks = {m.group(1) for k in state if (m := re.match(r"model\.(\d+)\.conv_block\.", k))}
    return f"resnet_{len(blocks)}" if blocks else None


def _wrong_file(generator: str, state: dict[str, torch.Tensor]) -> str:
    guess = guess_generator(state)
    if guess and guess != generator:
        return f"; it looks like a {guess} generator: pass --generator {guess}"
    if guess is None:
        return "; it does not look like a reference generator (latest_net_G.pth, *_net_G_A.pth)"
    return ""


def infer_base_channels(state: dict[str, torch.Tensor], generator: str, path: Path) -> int:
    """ngf: the output channels of the first convolution, whose weight is (ngf, 3, k, k)."""
    key = _FIRST_CONV[_family(generator)] + ".weight"
    w = state.get(key)
    if w is None or w.dim() != 4:
        raise UserError(f"{path} has no 4-d {key}{_wrong_file(generator, state)}")
    if w.shape[1] != 3:
        raise UserError(
            f"{path}: {key} takes {w.shape[1]} input channels; cg's generators take 3 (RGB)"
        )
    return int(w.shape[0])


def infer_norm(state: dict[str, torch.Tensor], generator: str, path: Path) -> str:
    """``instance`` when the first convolution has a bias, ``batch`` when norm layers have stats."""
    family = _family(generator)
    if _FIRST_CONV[family] + ".bias" in state:
        return "instance"
    if _FIRST_NORM[family] + ".weight" in state:
        return "batch"
    raise UserError(
        f"cannot tell the norm of {path} (neither conv biases nor BatchNorm weights); "
        "pass --norm batch or --norm instance"
    )


def infer_dropout(state: dict[str, torch.Tensor], generator: str) -> bool:
    """Whether a ResNet was built with dropout: its Dropout shifts each block's second conv from
    ``conv_block.5`` to ``conv_block.6`` (with batch norm ``conv_block.6`` is otherwise the 1-d
    norm weight). A U-Net's Dropout comes last in its level and moves no key, so it is not
    visible; it makes no difference in eval mode."""
    if _family(generator) != "resnet":
        return False
    return any(
        re.fullmatch(r"model\.\d+\.conv_block\.6\.weight", k) and v.dim() == 4
        for k, v in state.items()
    )


def _owner(model: nn.Module, key: str) -> nn.Module | None:
    try:
        return model.get_submodule(key.rpartition(".")[0])
    except AttributeError:
        return None


def patch_norm_buffers(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Drop InstanceNorm buffers the model has no place for; add BatchNorm's missing counters."""
    out = {}
    for key, value in state.items():
        owner, leaf = _owner(model, key), key.rpartition(".")[2]
        if isinstance(owner, nn.modules.instancenorm._InstanceNorm):
            stale = leaf == "num_batches_tracked" or (
                leaf in ("running_mean", "running_var") and getattr(owner, leaf) is None
            )
            if stale:
                continue
        out[key] = value
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            key = f"{name}.num_batches_tracked"
            if f"{name}.running_mean" in out and key not in out:
                out[key] = torch.tensor(0, dtype=torch.long)
    return out


def check_keys(
    state: dict[str, torch.Tensor], model: nn.Module, path: Path, generator: str
) -> None:
    """A UserError naming the first missing, unexpected and mis-shaped keys, if any."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if not (missing or unexpected or shapes):
        return
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", shapes)):
        if items:
            more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
            parts.append(f"{label}: {', '.join(items[:3])}{more}")
    raise UserError(
        f"{path} does not fit a {generator} generator{_wrong_file(generator, state)} "
        f"(first mismatches: {'; '.join(parts)})"
    )


def convert_official(
    path: str | Path, generator: str, norm: str | None = None
) -> tuple[TrainConfig, nn.Module]:
    """The config and the loaded cg generator for a reference generator state_dict."""
    path = Path(path)
    family = _family(generator)
    state = read_state_dict(path)
    ngf = infer_base_channels(state, generator, path)
    if norm is None:
        norm = infer_norm(state, generator, path)
    elif norm not in ("batch", "instance"):
        raise UserError(f"--norm {norm!r} is not one of batch, instance")
    elif (_FIRST_CONV[family] + ".bias" in state) != (norm == "instance"):
        saved = "batch" if norm == "instance" else "instance"
        raise UserError(
            f"{path} was saved with {saved} norm (its first convolution "
            f"{'has a' if saved == 'instance' else 'has no'} bias), not --norm {norm}; "
            f"pass --norm {saved} or leave --norm out"
        )
    size = 128 if generator == "unet_128" else 256
    cfg = make_config(
        generator=generator,
        norm=norm,
        base_channels=ngf,
        dropout=infer_dropout(state, generator),
        image_size=size,
    )
    model = build_generator(cfg)
    state = patch_norm_buffers(state, model)
    check_keys(state, model, path, generator)
    model.load_state_dict(state, strict=True)
    return cfg, model.eval()


def import_official(
    path: str | Path, generator: str, norm: str | None, out: str | Path, direction: str = "ab"
) -> Path:
    """Convert a reference generator checkpoint into the cg checkpoint ``out``; returns ``out``.

    ``direction`` ``ab`` stores it as ``g_ab`` (pix2pix's G, CycleGAN's G_A), ``ba`` as
    ``g_ba`` (CycleGAN's G_B).
    """
    path, out = Path(path), Path(out)
    if direction not in ("ab", "ba"):
        raise UserError(f"--direction {direction!r} is not one of ab, ba")
    if out.resolve() == path.resolve():
        raise UserError(f"--out {out} is the input file; write the cg checkpoint elsewhere")
    cfg, model = convert_official(path, generator, norm)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    save_checkpoint(
        out,
        {
            "config": cfg.to_dict(),
            "epoch": 0,
            "models": {f"g_{direction}": state},
            "extra": {"imported_from": str(path), "source": SOURCE},
        },
    )
    return out
