"""BatchNorm over the global batch of a multi-process run, for processes on the CPU (gloo).

``torch.nn.SyncBatchNorm`` runs on GPUs only; :class:`CpuSyncBatchNorm` does the same on the
CPU. In training mode with an initialised process group of ``W > 1`` processes, it normalises
with the mean and (biased) variance of the whole global batch (``N = sum of n_r`` values per
channel, sums all-reduced in float64)::

    mu = S1 / N,  var = S2 / N - mu^2,  y = (x - mu) / sqrt(var + eps) * w + b
    running_mean <- (1 - m) running_mean + m mu,  running_var <- ... + m var N / (N - 1)

and backward all-reduces ``sum(dy)`` and ``sum(dy * x_hat)`` so that, with ``x_hat`` the
normalised input,

    dx = w / sqrt(var + eps) * (dy - sum(dy) / N - x_hat * sum(dy * x_hat) / N)

while ``dw = sum_local(dy * x_hat)`` and ``db = sum_local(dy)`` stay local (DistributedDataParallel
averages them over the processes like every other gradient). Together these are the gradients
of the mean of the processes' losses, as for one process holding the global batch. In eval mode,
or with a single process, it is ``BatchNorm2d``; its state_dict keys are ``BatchNorm2d``'s.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn


class _SyncBatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        weight: Tensor,
        bias: Tensor,
        running_mean: Tensor | None,
        running_var: Tensor | None,
        eps: float,
        momentum: float,
        group: Any,
    ) -> Tensor:
        dims = [0] + list(range(2, x.dim()))
        xf = x.double()
        local = torch.cat(
            [
                xf.sum(dims),
                (xf * xf).sum(dims),
                torch.tensor([x.numel() / x.shape[1]], dtype=torch.float64),
            ]
        )
        dist.all_reduce(local, group=group)
        c = x.shape[1]
        n = float(local[-1])
        mean = local[:c] / n
        var = (local[c : 2 * c] / n - mean * mean).clamp_min(0)
        if running_mean is not None and running_var is not None:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(momentum * mean.to(running_mean.dtype))
                unbiased = var * (n / max(n - 1.0, 1.0))
                running_var.mul_(1 - momentum).add_(momentum * unbiased.to(running_var.dtype))
        shape = [1, c] + [1] * (x.dim() - 2)
        invstd = torch.rsqrt(var + eps).float().view(shape)
        x_hat = (x.float() - mean.float().view(shape)) * invstd
        ctx.save_for_backward(x_hat, weight, invstd)
        ctx.n, ctx.group, ctx.dims, ctx.dtype = n, group, dims, x.dtype
        return (x_hat * weight.float().view(shape) + bias.float().view(shape)).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x_hat, weight, invstd = ctx.saved_tensors
        dy = grad.float()
        sum_dy = dy.sum(ctx.dims)
        sum_dy_xhat = (dy * x_hat).sum(ctx.dims)
        c = x_hat.shape[1]
        shape = [1, c] + [1] * (x_hat.dim() - 2)
        grad_input = None
        if ctx.needs_input_grad[0]:
            total = torch.cat([sum_dy, sum_dy_xhat]).double()
            dist.all_reduce(total, group=ctx.group)
            mean_dy = (total[:c] / ctx.n).float().view(shape)
            mean_dy_xhat = (total[c:] / ctx.n).float().view(shape)
            scale = weight.float().view(shape) * invstd
            grad_input = (scale * (dy - mean_dy - x_hat * mean_dy_xhat)).to(ctx.dtype)
        grad_weight = sum_dy_xhat.to(weight.dtype) if ctx.needs_input_grad[1] else None
        grad_bias = sum_dy.to(weight.dtype) if ctx.needs_input_grad[2] else None
        return grad_input, grad_weight, grad_bias, None, None, None, None, None


class CpuSyncBatchNorm(nn.BatchNorm2d):
    """``BatchNorm2d`` whose training-mode statistics span every process of ``group``."""

    def __init__(self, *args: Any, group: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = group

    def forward(self, x: Tensor) -> Tensor:
        world = dist.get_world_size(self.group) if dist.is_initialized() else 1
        if not self.training or world == 1 or not (self.affine and self.track_running_stats):
            return super().forward(x)
        assert self.num_batches_tracked is not None
        self.num_batches_tracked.add_(1)
        if self.momentum is None:  # cumulative moving average, as BatchNorm2d
            momentum = 1.0 / float(self.num_batches_tracked)
        else:
            momentum = self.momentum
        return _SyncBatchNormFunction.apply(
            x,
            self.weight,
            self.bias,
            self.running_mean,
            self.running_var,
            self.eps,
            momentum,
            self.group,
        )


def convert_sync_batchnorm(module: nn.Module, device: torch.device, group: Any = None) -> nn.Module:
    """Every ``BatchNorm2d`` of ``module`` made to synchronise: ``torch.nn.SyncBatchNorm`` on
    GPUs, :class:`CpuSyncBatchNorm` on the CPU. Parameters and buffers are shared, not copied."""
    if device.type != "cpu":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module, group)
    if isinstance(module, nn.BatchNorm2d) and not isinstance(module, CpuSyncBatchNorm):
        out = CpuSyncBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
            group=group,
        )
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        out.running_mean, out.running_var = module.running_mean, module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
        return out
    for name, child in module.named_children():
        module.add_module(name, convert_sync_batchnorm(child, device, group))
    return module
