"""Where a GPU training step's time goes, kernel by kernel: the same step in
nairrcore's C++ loop and in Python, side by side, from torch.profiler's CUDA
activity (kernels replayed from CUDA graphs included). JSON out: per case, GPU
kernel time and wall time per step, and the kernels by total time.

    python bench/kernel_profile.py --cifar DIR [--cases ...] [--skip-compile] --out profile.json

cases: mlp (forecasting MLP, 210-city sizes: nairrcore with graphs on and off,
eager with fused AdamW, torch.compile max-autotune), resnet18 (eager vs
nairrcore, bf16, batch 512), fastnet (one whole training run: nairrcore vs
bench/fast_recipe.py). nairrcore's loop is profiled in steady state: two
fresh fits of different lengths, kernel by kernel the difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mlp_step  # noqa: E402

import nairrcore  # noqa: E402
from nairrcore import cifar10  # noqa: E402
from nairrcore import forecasting as fc  # noqa: E402
from nairrcore.data.cifar10 import ImageSet  # noqa: E402
from nairrcore.evidence.environment import git_state, machine  # noqa: E402


def _kernels(prof) -> dict[str, list[float]]:
    """GPU kernels (and copies) by name: [total microseconds, calls]."""
    kernels: dict[str, list[float]] = {}
    for e in prof.events():
        if getattr(e, "device_type", None) != torch.autograd.DeviceType.CUDA:
            continue
        k = kernels.setdefault(e.name[:140], [0.0, 0])
        k[0] += getattr(e, "device_time", None) or getattr(e, "cuda_time", 0.0)
        k[1] += 1
    return kernels


def _table(kernels: dict[str, list[float]], steps: int, wall: float, top: int = 25) -> dict:
    total = sum(v[0] for v in kernels.values())
    rows = sorted(kernels.items(), key=lambda kv: -kv[1][0])[:top]
    return {"steps": steps, "wall_ms_per_step": 1e3 * wall / steps, "gpu_kernel_ms_per_step": total / 1e3 / steps,
            "kernels_per_step": sum(v[1] for v in kernels.values()) / steps,
            "top": [{"name": n, "ms_per_step": round(v[0] / 1e3 / steps, 4), "calls_per_step": v[1] / steps}
                    for n, v in rows]}


def _run_profiled(fn) -> tuple[dict, float]:
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                            torch.profiler.ProfilerActivity.CUDA]) as prof:
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        wall = time.perf_counter() - t0
    return _kernels(prof), wall


def _profile(fn, steps: int) -> dict:
    kernels, wall = _run_profiled(fn)
    return _table(kernels, steps, wall)


def _profile_fits(fit, steps: int) -> dict:
    """nairrcore's loop in steady state: fresh fits of `steps` and 2 x `steps`
    batches, kernel by kernel the difference (set-up, warm-up and graph
    capture cancel)."""
    (short, t_short), (long, t_long) = _run_profiled(lambda: fit(steps)), _run_profiled(lambda: fit(2 * steps))
    diff = {name: [v[0] - short.get(name, [0.0, 0])[0], v[1] - short.get(name, [0.0, 0])[1]]
            for name, v in long.items()}
    return _table({n: v for n, v in diff.items() if v[0] > 0}, steps, t_long - t_short)


def mlp_cases(args) -> dict:
    dev, out = torch.device("cuda"), {}
    width, depth, batch, steps = 1024, 8, 8192, 50
    for kind in ("eager_fused",) + (() if args.skip_compile else ("compile",)):
        step = mlp_step.make_step(kind, dev, "bf16", width, depth, batch)
        for _ in range(20):
            step()

        def run(step=step):
            for _ in range(steps):
                step()
        out[kind] = _profile(run, steps)
    for graphs in (True, False):
        def fit(n: int, graphs=graphs) -> None:
            cfg = fc.ForecastConfig(width=width, depth=depth, epochs=1, batch_size=batch, device="cuda",
                                    precision="bf16", data_on_device=True, cuda_graphs=graphs)
            x, y = torch.randn(n * batch, 37), torch.randn(n * batch, 3)
            fc.Trainer(cfg)._ensure().fit(x, y, x[:0], y[:0])
        fit(5)  # cuBLAS and allocator warm-up
        out[f"nairrcore_graphs_{'on' if graphs else 'off'}"] = _profile_fits(fit, steps)
    return out


def resnet_cases(args, data) -> dict:
    dev, bs, steps = torch.device("cuda"), 512, 20
    import cifar10 as bench_cifar  # bench/cifar10.py
    torch.manual_seed(0)
    model = bench_cifar.eager_resnet18().to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(bs, 3, 32, 32, device=dev).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (bs,), device=dev)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()

    def run():
        for _ in range(steps):
            step()
    out = {"eager": _profile(run, steps)}

    def fit(n: int) -> None:
        subset = data.limited(bs * n)
        subset.test = ImageSet(data.test.images[:0], data.test.labels[:0])
        cfg = cifar10.Cifar10Config(model="resnet18", epochs=1, batch_size=bs, device="cuda", tta=False,
                                    lr_start=1.0, lr_peak=0.0)
        cifar10.Trainer(cfg).fit(subset)
    fit(4)
    out["nairrcore"] = _profile_fits(fit, steps)
    return out


def fastnet_cases(args, data) -> dict:
    import fast_recipe
    dev = torch.device("cuda")
    train, test = data.train, data.test
    fast_recipe.train(train.images, train.labels, test.images, test.labels, seed=0, device=dev)  # warm-up
    out = {"recipe": _profile(lambda: fast_recipe.train(train.images, train.labels, test.images, test.labels,
                                                        seed=1, device=dev), 1)}
    trainer = cifar10.Trainer(cifar10.Cifar10Config(model="fastnet", seed=0, device="cuda"))
    trainer.fit(data)
    trainer = cifar10.Trainer(cifar10.Cifar10Config(model="fastnet", seed=1, device="cuda"))
    out["nairrcore"] = _profile(lambda: trainer.fit(data), 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cifar", help="cifar-10-batches-bin folder (the resnet18 and fastnet cases)")
    p.add_argument("--cases", nargs="*", default=["mlp", "resnet18", "fastnet"])
    p.add_argument("--skip-compile", action="store_true", help="mlp: leave out torch.compile (2 min of autotuning)")
    p.add_argument("--out")
    a = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("kernel_profile.py needs a CUDA GPU")
    result = {"machine": machine(), "git": git_state(Path(__file__).resolve().parents[1]), "torch": torch.__version__}
    data = cifar10.load(a.cifar) if {"resnet18", "fastnet"} & set(a.cases) else None
    for case in a.cases:
        t0 = time.perf_counter()
        result[case] = {"mlp": mlp_cases, "resnet18": resnet_cases, "fastnet": fastnet_cases}[case](
            *((a,) if case == "mlp" else (a, data)))
        result[case]["profile_sec"] = time.perf_counter() - t0
        print(json.dumps({case: result[case]}, indent=1), flush=True)
    if a.out:
        nairrcore.files.write_text(a.out, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
