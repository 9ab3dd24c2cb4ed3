"""The FID Inception graph rebuilt for inference on the CPU (the report's KID).

The TorchScript graph (:func:`cg.eval.fid.inception.load_fid_network`) copies every branch of
a block back to the default memory layout before joining them, and runs each batch norm on
its own. :func:`inference_network` builds the same network as eager modules, each batch norm
folded into its convolution, so that it runs channels-last throughout; its pool3 features
differ from the graph's by float rounding (tests/test_fid.py; docs/benchmarks.md: the speed).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: The graph's batch-norm epsilon (TensorFlow's 0.001), in each ``Conv2dLayer``'s code.
BN_EPS = 1e-3


class _Concat(nn.Module):
    """Branches applied to one input, their outputs joined along the channels."""

    def __init__(self, *branches: nn.Module):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([b(x) for b in self.branches], 1)


def _conv(layer: torch.jit.ScriptModule) -> nn.Module:
    """A ``Conv2dLayer`` (convolution, batch norm without scale, ReLU) as one convolution
    whose weights and bias carry the batch norm, then an in-place ReLU."""
    weight, mean, var, beta = (
        getattr(layer, n).detach() for n in ("weight", "mean", "var", "beta")
    )
    scale = torch.rsqrt(var + BN_EPS)
    padding = layer.padding if isinstance(layer.padding, int) else tuple(layer.padding)
    conv = nn.Conv2d(
        weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), layer.stride, padding
    )
    with torch.no_grad():
        conv.weight.copy_(weight * scale[:, None, None, None])
        conv.bias.copy_(beta - mean * scale)
    return nn.Sequential(conv, nn.ReLU(inplace=True))


def _pool(pool: torch.jit.ScriptModule) -> nn.Module:
    """A pooling layer of the graph, with its settings (the scripted module's constants)."""
    k, stride, pad = pool.kernel_size, pool.stride, pool.padding
    if pool.original_name == "AvgPool2d":
        return nn.AvgPool2d(k, stride, pad, pool.ceil_mode, pool.count_include_pad)
    return nn.MaxPool2d(k, stride, pad, pool.dilation, ceil_mode=pool.ceil_mode)


#: The blocks whose branches all read the block's input: the branches, in their torch.cat's order.
_BRANCHES = {
    "InceptionA": ("conv", "tower", "tower_1", "tower_2"),
    "InceptionB": ("conv", "tower", "pool"),
    "InceptionC": ("conv", "tower", "tower_1", "tower_2"),
    "InceptionD": ("tower", "tower_1", "pool"),
}


def _eager(m: torch.jit.ScriptModule) -> nn.Module:
    kind = m.original_name
    if kind == "Conv2dLayer":
        return _conv(m)
    if kind in ("MaxPool2d", "AvgPool2d"):
        return _pool(m)
    if kind == "Sequential":
        return nn.Sequential(*(_eager(c) for _, c in m.named_children()))
    if kind in ("WrapNet", "InceptionV3"):
        return _eager(m.net if kind == "WrapNet" else m.layers)
    if kind in _BRANCHES:
        return _Concat(*(_eager(getattr(m, b)) for b in _BRANCHES[kind]))
    if kind == "InceptionE":  # two towers end in a pair of convolutions on one input
        e = {name: _eager(c) for name, c in m.named_children()}
        return _Concat(
            e["conv"],
            nn.Sequential(e["tower_conv"], _Concat(e["tower_mixed_conv"], e["tower_mixed_conv_1"])),
            nn.Sequential(
                e["tower_1_conv"],
                e["tower_1_conv_1"],
                _Concat(e["tower_1_mixed_conv"], e["tower_1_mixed_conv_1"]),
            ),
            nn.Sequential(e["tower_2_pool"], e["tower_2_conv"]),
        )
    raise ValueError(f"the FID graph holds a {kind}, which inference_network does not know")


def inference_network(graph: torch.jit.ScriptModule) -> nn.Module:
    """The FID graph (:func:`load_fid_network`) as eager modules, for inference on the CPU:
    each batch norm folded into its convolution, ReLUs in place, the blocks' outputs joined
    without the graph's copies to the default memory layout. The same network: its pool3
    features differ from the graph's by float rounding (tests/test_fid.py)."""
    layers = _eager(graph)
    return nn.Sequential(layers, nn.Flatten()).eval().requires_grad_(False)
