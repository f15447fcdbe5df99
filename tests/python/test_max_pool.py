"""The fast net's 2x2 max pool: nairrcore's GPU kernels against
torch.nn.functional.max_pool2d, forward and backward, in every dtype, on
channel counts that take the vectorised and the one-channel paths, with ties
and NaN; and the fallback to torch everywhere else."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nairrcore._native import core

DTYPES = [torch.float32, torch.bfloat16, torch.float16]


def images(n, c, h, w, device, dtype, seed=0, levels=None):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=gen)
    if levels:  # few distinct values: most windows hold ties
        x = (x * levels).round() / levels
    return x.to(device, dtype).contiguous(memory_format=torch.channels_last).requires_grad_(True)


def both(x, dout):
    """(out, dx) of nairrcore's pool and of torch's, for the same input and output gradient."""
    results = []
    for pool in (core.max_pool_2x2, lambda t: F.max_pool2d(t, 2)):
        x.grad = None
        out = pool(x)
        (dx,) = torch.autograd.grad(out, x, dout)
        results.append((out, dx))
    return results


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
# the fast net's first group (31 x 31: the last row and column are in no window), even sizes, c=5: one channel a thread
@pytest.mark.parametrize("shape", [(4, 64, 31, 31), (3, 24, 16, 8), (2, 5, 7, 10)])
def test_gpu_pool_equals_torch_bit_for_bit(dtype, shape):
    x = images(*shape, "cuda", dtype, levels=2)
    assert core.max_pool_2x2_uses_kernel(x)
    dout = torch.randn(shape[0], shape[1], shape[2] // 2, shape[3] // 2, device="cuda").to(dtype)
    dout = dout.contiguous(memory_format=torch.channels_last)
    (out, dx), (ref_out, ref_dx) = both(x, dout)
    assert out.is_contiguous(memory_format=torch.channels_last) and dx.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, ref_out)
    assert torch.equal(dx, ref_dx)  # ties: the first maximum in row-major order gets the gradient, as in torch


@pytest.mark.cuda
def test_gpu_pool_passes_nan_and_its_gradient_like_torch():
    x = images(2, 16, 4, 4, "cuda", torch.float32).detach()
    x[0, 3, 1, 1] = float("nan")  # last of its window
    x[1, 7, 2, 2] = float("nan")  # first of its window
    x[1, 8, 0, 0] = float("nan")  # two NaN in one window: the later wins
    x[1, 8, 1, 0] = float("nan")
    x.requires_grad_(True)
    dout = torch.randn(2, 16, 2, 2, device="cuda").contiguous(memory_format=torch.channels_last)
    (out, dx), (ref_out, ref_dx) = both(x, dout)
    assert torch.equal(out.isnan(), ref_out.isnan()) and out.isnan().sum() == 3
    assert torch.equal(out.nan_to_num(), ref_out.nan_to_num())
    assert torch.equal(dx, ref_dx)


@pytest.mark.cuda
def test_gpu_pool_replays_from_a_cuda_graph():
    x = images(8, 64, 16, 16, "cuda", torch.float16).detach()
    static = x.clone()
    graph = torch.cuda.CUDAGraph()
    torch.cuda.synchronize()
    with torch.cuda.graph(graph):
        out = core.max_pool_2x2(static)
    static.copy_(-x)
    graph.replay()
    assert torch.equal(out, F.max_pool2d(-x, 2))


@pytest.mark.parametrize("make", [
    lambda: images(2, 8, 4, 4, "cpu", torch.float32),                        # not on a GPU
    pytest.param(lambda: torch.randn(2, 8, 4, 4, device="cuda", requires_grad=True), marks=pytest.mark.cuda),  # NCHW
    pytest.param(lambda: images(2, 8, 4, 4, "cuda", torch.float64), marks=pytest.mark.cuda),  # float64
])
def test_other_inputs_fall_back_to_torch(make):
    x = make()
    assert not core.max_pool_2x2_uses_kernel(x)
    dout = torch.randn(F.max_pool2d(x.detach(), 2).shape, dtype=x.dtype, device=x.device)
    (out, dx), (ref_out, ref_dx) = both(x, dout)
    assert torch.equal(out, ref_out) and torch.equal(dx, ref_dx)
