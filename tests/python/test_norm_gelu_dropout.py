"""The MLP block's fused (bias ->) LayerNorm -> GELU -> dropout (CPU fp32, and
the CUDA kernels in fp32, bf16 and fp16) against the torch ops in float64,
forward and backward, with and without dropout."""

from __future__ import annotations

import pytest
import torch

from nairrcore._native import core


def reference(z, gamma, beta, mask=None):
    y = torch.nn.functional.layer_norm(z.double(), (z.shape[1],), gamma.double(), beta.double(), 1e-5)
    g = torch.nn.functional.gelu(y)
    return g if mask is None else g * mask


def inputs(rows, width, device, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = (torch.randn(rows, width, generator=gen) * 3 + 1).to(device, dtype).requires_grad_(True)
    gamma = (1 + 0.3 * torch.randn(width, generator=gen)).to(device).requires_grad_(True)
    beta = (0.2 * torch.randn(width, generator=gen)).to(device).requires_grad_(True)
    dout = torch.randn(rows, width, generator=gen).to(device, dtype)
    return z, gamma, beta, dout


def grads(out, dout, *tensors):
    return torch.autograd.grad(out, tensors, dout)


def rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


CASES = [("cpu", torch.float32, 1e-5)]
CUDA = [("cuda", torch.float32, 1e-5), ("cuda", torch.bfloat16, 1e-2), ("cuda", torch.float16, 2e-3)]


@pytest.mark.parametrize("device,dtype,tol", CASES + [pytest.param(*c, marks=pytest.mark.cuda) for c in CUDA])
@pytest.mark.parametrize("rows,width", [(300, 1024), (77, 100), (1, 32), (513, 256)])
def test_fused_block_equals_layer_norm_gelu(device, dtype, tol, rows, width):
    z, gamma, beta, dout = inputs(rows, width, device, dtype)
    out = core.norm_gelu_dropout(z, gamma, beta, 1e-5, 0.0, True)
    assert out.dtype == dtype and out.shape == z.shape
    zr, gr, br = (t.detach().double().requires_grad_(True) for t in (z, gamma, beta))
    ref = reference(zr, gr, br)
    assert rel(out, ref) < tol
    for ours, theirs in zip(grads(out, dout, z, gamma, beta), grads(ref, dout.double(), zr, gr, br)):
        assert rel(ours, theirs) < 4 * tol


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_dropout_keeps_the_rest_scaled_and_backward_uses_the_same_mask(device):
    p = 0.25
    z, gamma, beta, dout = inputs(2048, 512, device, torch.float32, seed=1)
    out = core.norm_gelu_dropout(z, gamma, beta, 1e-5, p, True)
    kept = out != 0
    assert abs(1 - kept.double().mean().item() - p) < 0.005  # 1M draws
    mask = kept.double() / (1 - p)
    zr, gr, br = (t.detach().double().requires_grad_(True) for t in (z, gamma, beta))
    ref = reference(zr, gr, br, mask)
    assert rel(out, ref) < 1e-5
    for ours, theirs in zip(grads(out, dout, z, gamma, beta), grads(ref, dout.double(), zr, gr, br)):
        assert rel(ours, theirs) < 4e-5
    again = core.norm_gelu_dropout(z, gamma, beta, 1e-5, p, True)
    assert not torch.equal(again != 0, kept)  # a fresh key each call
    assert rel(core.norm_gelu_dropout(z, gamma, beta, 1e-5, p, False), reference(zr, gr, br)) < 1e-5  # eval: none


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_the_linear_bias_is_added_before_the_norm_and_gets_its_gradient(device):
    p = 0.25
    z, gamma, beta, dout = inputs(1000, 256, device, torch.float32, seed=5)
    bias = (torch.randn(256, generator=torch.Generator().manual_seed(6)) * 2).to(device).requires_grad_(True)
    out = core.norm_gelu_dropout(z, gamma, beta, 1e-5, p, True, bias=bias)
    mask = (out != 0).double() / (1 - p)
    zr, gr, br, biasr = (t.detach().double().requires_grad_(True) for t in (z, gamma, beta, bias))
    ref = reference(zr + biasr, gr, br, mask)
    assert rel(out, ref) < 1e-5
    for ours, theirs in zip(grads(out, dout, z, gamma, beta, bias), grads(ref, dout.double(), zr, gr, br, biasr)):
        assert rel(ours, theirs) < 4e-5


def test_cpu_forward_without_grad_gives_the_training_output():
    """Under no_grad the CPU block keeps no GELU slope for backward: same output, same mask."""
    z, gamma, beta, _ = inputs(777, 128, "cpu", torch.float32, seed=7)
    torch.manual_seed(8)
    with_grad = core.norm_gelu_dropout(z, gamma, beta, 1e-5, 0.3, True)
    torch.manual_seed(8)
    with torch.no_grad():
        without = core.norm_gelu_dropout(z, gamma, beta, 1e-5, 0.3, True)
    assert with_grad.requires_grad and not without.requires_grad
    assert torch.equal(with_grad.detach(), without)


def test_cpu_second_backward_through_one_forward_is_refused_not_wrong():
    """The CPU backward writes the input gradient over the saved GELU slope, so a
    retained graph cannot be walked twice: the second pass raises instead of
    reading the first pass's gradient as slopes."""
    p = 0.1
    z, gamma, beta, dout = inputs(64, 96, "cpu", torch.float32, seed=9)
    out = core.norm_gelu_dropout(z, gamma, beta, 1e-5, p, True)
    first = torch.autograd.grad(out, z, dout, retain_graph=True)[0]
    zr, gr, br = (t.detach().double().requires_grad_(True) for t in (z, gamma, beta))
    expected = grads(reference(zr, gr, br, (out != 0).double() / (1 - p)), dout.double(), zr)[0]
    assert rel(first, expected) < 4e-5
    with pytest.raises(RuntimeError, match="second backward"):
        torch.autograd.grad(out, z, dout)


@pytest.mark.cuda
def test_cuda_block_gradients_are_reproducible_bit_for_bit():
    z, gamma, beta, dout = inputs(8192, 1024, "cuda", torch.bfloat16, seed=2)
    torch.manual_seed(3)
    a = grads(core.norm_gelu_dropout(z, gamma, beta, 1e-5, 0.1, True), dout, z, gamma, beta)
    torch.manual_seed(3)
    b = grads(core.norm_gelu_dropout(z, gamma, beta, 1e-5, 0.1, True), dout, z, gamma, beta)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.cuda
def test_cuda_block_draws_a_new_mask_on_every_graph_replay():
    z, gamma, beta, _ = inputs(256, 1024, "cuda", torch.bfloat16, seed=4)
    z, gamma, beta = z.detach(), gamma.detach(), beta.detach()
    core.norm_gelu_dropout(z, gamma, beta, 1e-5, 0.5, True)  # warm-up outside the capture
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = core.norm_gelu_dropout(z, gamma, beta, 1e-5, 0.5, True)
    masks = []
    for _ in range(3):
        graph.replay()
        masks.append((out != 0).clone())
    assert not torch.equal(masks[0], masks[1]) and not torch.equal(masks[1], masks[2])
    assert all(abs(m.float().mean().item() - 0.5) < 0.01 for m in masks)
