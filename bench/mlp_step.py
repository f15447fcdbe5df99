"""The forecasting MLP's training step as a user writes it in Python, for the
benchmark's ceilings: the same model, loss, optimiser and precision on
random tensors already on the device (no data pipeline at all).

    eager        torch.optim.AdamW as constructed by default (foreach on a GPU)
    eager_fused  AdamW(fused=True)
    compile      torch.compile(model, mode="max-autotune") with AdamW(fused=True)

and the ATen operations and kernel launches one step dispatches, counted
with torch.profiler for these steps and for nairrcore's C++ loop.

Run alone, it prints one ceiling as JSON (the benchmark runs the compiled
one in a child process with a time limit):
    python bench/mlp_step.py --kind compile --device cuda --precision bf16 --width 1024 --depth 8
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from nairrcore import forecasting as fc
from nairrcore.forecasting.model import MLP

KINDS = ("eager", "eager_fused", "compile")
LAUNCHES = ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cuLaunchKernelEx", "cudaGraphLaunch")


def make_step(kind: str, device: torch.device, precision: str, width: int, depth: int, batch: int,
              lr: float = 3e-4, seed: int = 42):
    """A closure running one training step on fixed random inputs."""
    torch.manual_seed(seed)
    model = MLP(37, width, depth, 3, 0.1).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-2, **({} if kind == "eager" else
                                                                             {"fused": True}))
    forward = torch.compile(model, mode="max-autotune") if kind == "compile" else model
    x = torch.randn(batch, 37, device=device)
    y = torch.randn(batch, 3, device=device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

    def step():
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = torch.nn.functional.smooth_l1_loss(forward(x).float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    return step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ceiling(kind: str, device: torch.device, precision: str, width: int, depth: int, batch: int,
            steps: int = 200, warmup: int = 20) -> dict:
    """Training samples/s of `kind`'s step (median of three timed runs)."""
    t0 = time.perf_counter()
    step = make_step(kind, device, precision, width, depth, batch)
    for _ in range(warmup):
        step()
    _sync(device)
    setup = time.perf_counter() - t0
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        rates.append(steps * batch / (time.perf_counter() - t0))
    rates.sort()
    return {"kind": kind, "samples_per_sec": rates[1], "runs": rates, "steps_per_run": steps,
            "setup_sec": setup, "precision": precision}


def _count(prof) -> dict:
    events = prof.events()
    return {"aten_ops": sum(1 for e in events if e.name.startswith("aten::")),
            "kernel_launches": sum(1 for e in events if e.name in LAUNCHES),
            "graph_launches": sum(1 for e in events if e.name == "cudaGraphLaunch")}


def _profiled(fn, device: torch.device) -> dict:
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        fn()
        _sync(device)
    return _count(prof)


def python_op_counts(device: torch.device, precision: str, width: int, depth: int, batch: int,
                     steps: int = 10) -> dict:
    """ATen operations and kernel launches per step of the default eager step."""
    step = make_step("eager", device, precision, width, depth, batch)
    for _ in range(3):
        step()

    def run():
        for _ in range(steps):
            step()

    counts = _profiled(run, device)
    return {k: v / steps for k, v in counts.items()}


def nairrcore_op_counts(device: torch.device, precision: str, width: int, depth: int, batch: int,
                        steps: int = 10) -> dict:
    """The same per step for nairrcore's loop in steady state: two fits of
    different lengths, so the warm-up and capture steps both share cancel."""
    def fit(n_steps: int) -> dict:
        cfg = fc.ForecastConfig(width=width, depth=depth, epochs=1, batch_size=batch, device=str(device),
                                precision=precision, data_on_device=device.type == "cuda")
        impl = fc.Trainer(cfg)._ensure()
        x = torch.randn(n_steps * batch, 37)
        y = torch.randn(n_steps * batch, 3)
        empty_x, empty_y = x[:0], y[:0]
        return _profiled(lambda: impl.fit(x, y, empty_x, empty_y), device)

    short, long = fit(steps), fit(2 * steps)
    return {k: (long[k] - short[k]) / steps for k in short}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=KINDS, required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--precision", default="bf16")
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=8192)
    a = p.parse_args()
    print(json.dumps(ceiling(a.kind, torch.device(a.device), a.precision, a.width, a.depth, a.batch_size)))


if __name__ == "__main__":
    main()
