"""The fused optimisers the training loops step with (ATen's _fused_adamw_ and
_fused_sgd_ kernels over each parameter group) against torch.optim's reference
implementations, over many steps with weight-decay groups and a learning-rate
schedule that changes every step."""

from __future__ import annotations

import math

import pytest
import torch

from nairrcore._native import core

SHAPES = [(64, 37), (64,), (64, 64), (64,), (3, 64), (3,)]
STEPS = 200


def _params(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g) for s in SHAPES]


def _schedule(step: int, base: float) -> float:
    """Warm-up then cosine decay, a new value every step."""
    warm = 20
    if step < warm:
        return base * (step + 1) / warm
    return base * 0.5 * (1 + math.cos(math.pi * (step - warm) / (STEPS - warm)))


def _run(make_ours, make_ref, lrs: list[float]):
    ours = [p.clone() for p in _params(0)]
    ref = [p.clone().requires_grad_(True) for p in _params(0)]
    groups_ours = [ours[0::2], ours[1::2]]   # weights, then biases
    groups_ref = [ref[0::2], ref[1::2]]
    opt_ours, opt_ref = make_ours(groups_ours), make_ref(groups_ref)
    g = torch.Generator().manual_seed(1)
    for step in range(STEPS):
        for p, r in zip(ours, ref):
            grad = torch.randn(p.shape, generator=g) * (1 + step % 7)
            p.grad, r.grad = grad.clone(), grad.clone()
        for k, base in enumerate(lrs):
            opt_ours.set_lr(k, _schedule(step, base))
            opt_ref.param_groups[k]["lr"] = _schedule(step, base)
        opt_ours.step()
        opt_ref.step()
    return ours, [r.detach() for r in ref]


def test_fused_adamw_equals_torch_adamw_over_many_steps():
    lrs, decays = [3e-3, 1e-2], [1e-2, 0.0]

    def ours(groups):
        return core.FusedAdamW([(ps, lr, wd) for ps, lr, wd in zip(groups, lrs, decays)], betas=(0.9, 0.95), eps=1e-7)

    def ref(groups):
        return torch.optim.AdamW([{"params": ps, "lr": lr, "weight_decay": wd}
                                  for ps, lr, wd in zip(groups, lrs, decays)],
                                 betas=(0.9, 0.95), eps=1e-7, foreach=False)

    a, b = _run(ours, ref, lrs)
    moved = sum((x - y).abs().sum() for x, y in zip(a, _params(0)))
    assert moved > 1.0  # the parameters went somewhere
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("nesterov", [True, False])
def test_fused_sgd_equals_torch_sgd_over_many_steps(nesterov):
    lrs, decays = [0.05, 0.2], [5e-4, 0.0]

    def ours(groups):
        return core.FusedSGD([(ps, lr, wd) for ps, lr, wd in zip(groups, lrs, decays)], momentum=0.9,
                             nesterov=nesterov)

    def ref(groups):
        return torch.optim.SGD([{"params": ps, "lr": lr, "weight_decay": wd} for ps, lr, wd in zip(groups, lrs, decays)],
                               momentum=0.9, nesterov=nesterov, foreach=False)

    a, b = _run(ours, ref, lrs)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-5)


def test_parameters_without_gradients_are_left_alone():
    a, b = torch.randn(5), torch.randn(5)
    before = b.clone()
    opt = core.FusedAdamW([([a, b], 1e-2, 1e-2)])
    a.grad = torch.ones(5)
    opt.step()
    assert torch.equal(b, before) and not torch.equal(a, before)


@pytest.mark.parametrize("kind", ["adamw", "sgd"])
def test_scaled_gradients_are_unscaled_and_an_inf_step_changes_nothing(kind):
    """The loss scaler's path: gradients carry the scale, the kernel divides it
    out; with found_inf set the parameters, moments and step counts stay put
    (the next real step equals an unscaled run's first)."""
    def make(params):
        if kind == "adamw":
            return core.FusedAdamW([(params, 1e-2, 1e-2)])
        return core.FusedSGD([(params, 0.1, 5e-4)], momentum=0.9, nesterov=True)

    plain, scaled = _params(5), _params(5)
    opt_plain, opt_scaled = make(plain), make(scaled)
    g = torch.Generator().manual_seed(6)
    grads = [torch.randn(p.shape, generator=g) for p in plain]
    scale = torch.full((1,), 1024.0)
    for p, q, grad in zip(plain, scaled, grads):
        q.grad = torch.full_like(grad, float("inf"))
    opt_scaled.step(grad_scale=scale, found_inf=torch.ones(1))  # skipped
    assert all(torch.equal(p, q) for p, q in zip(plain, scaled))
    for p, q, grad in zip(plain, scaled, grads):
        p.grad, q.grad = grad.clone(), grad * scale
    opt_plain.step()
    opt_scaled.step(grad_scale=scale, found_inf=torch.zeros(1))
    for p, q in zip(plain, scaled):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
