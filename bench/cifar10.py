"""CIFAR-10 benchmark, nairrcore and the usual Python pipeline side by side in
one run, JSON out:

- augment: one epoch of random crop (pad 4, reflect) + flip + normalise into
  batches, nairrcore's C++ threads vs torchvision's CIFAR10-style Dataset +
  transforms + DataLoader with the same worker count;
- gpu_augment (CUDA only): the GPU-resident pipeline, images/s;
- train_step: ResNet-18 steps (SGD, AMP on GPU, channels_last) in the C++ loop
  vs the same model in a Python eager loop on the same device, both in steady
  state (nairrcore: two fits of different lengths, so its warm-up, graph
  capture and loader start cancel);
- fast (--fast-seeds N; 5 by default on a GPU): nairrcore's fast net against
  a public time-to-94% recipe in plain PyTorch (--reference: the current
  record, bench/speedrun_recipe.py, or airbench94, bench/fast_recipe.py), the
  same seeds on the same device: test accuracy per seed, its mean, and the
  training seconds of each (a warm-up run of each first on a GPU).

    python bench/cifar10.py --data ../shared/data/cifar-10-batches-bin [--out bench/results/x.json]
"""

from __future__ import annotations

import argparse
import importlib
import math
import time
from pathlib import Path

import numpy as np
import torch

import nairrcore
from nairrcore import cifar10
from nairrcore.data.cifar10 import ImageSet
from nairrcore.evidence.environment import git_state, machine

import steadiness  # bench/steadiness.py, beside this script
from emit import emit  # bench/emit.py, beside this script

REPO = Path(__file__).resolve().parents[1]

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class TorchvisionStyleCIFAR(torch.utils.data.Dataset):
    """What torchvision.datasets.CIFAR10 does per sample: HWC uint8 -> PIL -> transforms."""

    def __init__(self, images_nchw: torch.Tensor, labels: torch.Tensor, transform):
        from PIL import Image

        self._image = Image.fromarray
        self.data = images_nchw.permute(0, 2, 3, 1).contiguous().numpy()
        self.targets = labels.tolist()
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.transform(self._image(self.data[i])), self.targets[i]


def bench_augment(data, args) -> dict:
    import torchvision.transforms as T

    transform = T.Compose([T.RandomCrop(32, padding=4, padding_mode="reflect"), T.RandomHorizontalFlip(),
                           T.ToTensor(), T.Normalize(MEAN, STD)])
    ds = TorchvisionStyleCIFAR(data.train.images, data.train.labels, transform)
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=args.workers,
                                         persistent_workers=False)
    t0 = time.perf_counter()
    n = sum(len(y) for _, y in loader)
    base = n / (time.perf_counter() - t0)

    ours = nairrcore.ImageLoader(data.train.images, data.train.labels, batch_size=args.batch_size,
                                 workers=args.workers, pad=4)
    ours.set_epoch(0)
    t0 = time.perf_counter()
    n = sum(len(y) for _, y in ours)
    fast = n / (time.perf_counter() - t0)
    return {"images": n, "workers": args.workers, "batch_size": args.batch_size,
            "baseline_images_per_sec": round(base), "nairrcore_images_per_sec": round(fast),
            "speedup": round(fast / base, 2), "target_speedup": 10}


def bench_gpu_augment(data, args) -> dict:
    images, labels = data.train.images.cuda(), data.train.labels.cuda()
    loader = nairrcore.ImageLoader(images, labels, batch_size=1024, device="cuda", pad=4, channels_last=True)
    loader.set_epoch(0)
    for _ in loader:  # warm-up
        pass
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    n = 0
    for epoch in range(1, 6):
        loader.set_epoch(epoch)
        for x, y in loader:
            n += len(y)
    torch.cuda.synchronize()
    rate = n / (time.perf_counter() - t0)
    return {"images": n, "images_per_sec": round(rate), "target_images_per_sec": 1_000_000}


def eager_resnet18() -> torch.nn.Module:
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    layers, cin = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()], 64
    for i, w in enumerate((64, 128, 256, 512)):
        for b in range(2):
            layers.append(Block(cin, w, 2 if i > 0 and b == 0 else 1))
            cin = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


def bench_train_step(data, args, device: torch.device) -> dict:
    bs, steps = args.step_batch, args.steps
    precision = nairrcore.settings.resolve_precision("auto", device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    x = torch.randn(bs, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (bs,), device=device)
    torch.manual_seed(0)
    model = eager_resnet18().to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

    def step():
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    def timed(fn, n):
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - t0) / n

    eager = timed(step, steps)
    # nairrcore: the same model and step through the C++ loop, fed by its
    # loader (augmentation included, as in real training).
    def fit(n: int) -> tuple[float, str]:
        subset = data.limited(bs * n)
        subset.test = ImageSet(data.test.images[:0], data.test.labels[:0])
        cfg = cifar10.Cifar10Config(model="resnet18", epochs=1, batch_size=bs, device=str(device), tta=False,
                                    lr_start=1.0, lr_peak=0.0)
        trainer = cifar10.Trainer(cfg)
        [h] = trainer.fit(subset)
        return h["train_sec"], trainer.cuda_graphs

    (short, _), (long, graphs) = fit(steps), fit(2 * steps)
    ours = (long - short) / steps
    return {"device": str(device), "precision": precision, "batch_size": bs, "steps": steps,
            "eager_sec_per_step": round(eager, 5), "nairrcore_sec_per_step": round(ours, 5),
            "nairrcore_first_fit_sec_per_step": round(short / steps, 5),
            "speedup": round(eager / ours, 3), "target_speedup": 1.2, "cuda_graphs": graphs}


def _summary(runs: list[dict]) -> dict:
    accs = [r["accuracy"] for r in runs]
    secs = [r["train_seconds"] for r in runs]
    mean_acc = sum(accs) / len(accs)
    return {"runs": runs, "mean_accuracy": mean_acc, "min_accuracy": min(accs), "max_accuracy": max(accs),
            "mean_train_seconds": sum(secs) / len(secs),
            "time_to_94_sec": sum(secs) / len(secs) if mean_acc >= 0.94 else None}


# --reference: the public recipe the fast net is timed against, and its module beside this script
REFERENCES = {"speedrun": ("hiverge cifar10-speedrun (bench/speedrun_recipe.py)", "speedrun_recipe",
                           "the least confident 15%: 6 views"),
              "airbench94": ("airbench94 (bench/fast_recipe.py)", "fast_recipe", "mirror + translate")}


def bench_fast(data, args, device: torch.device) -> dict:
    name, module, tta = REFERENCES[args.reference]
    recipe = importlib.import_module(module)  # bench/<module>.py, beside this script
    train, test = data.train.head(args.fast_train_limit), data.test.head(args.fast_test_limit)
    subset = data.limited(args.fast_train_limit, args.fast_test_limit)
    hyper = recipe.Hyper(**({"train_epochs": args.fast_epochs} if args.fast_epochs else {}))
    reference, ours = [], []
    seeds = ([-1] if device.type == "cuda" else []) + list(range(args.fast_seeds))
    for seed in seeds:  # seed -1: warm-up (cuDNN autotuning, allocator), not reported
        r = recipe.train(train.images, train.labels, test.images, test.labels, seed=max(seed, 0),
                         device=device, h=hyper)
        cfg = cifar10.Cifar10Config(model="fastnet", seed=max(seed, 0), device=str(device),
                                    epochs=math.ceil(args.fast_epochs) if args.fast_epochs else None)
        trainer = cifar10.Trainer(cfg)
        hist = trainer.fit(subset)
        mine = {"seed": seed, "accuracy": trainer.evaluate(subset.test)["accuracy"],
                "train_seconds": sum(h["train_sec"] for h in hist),
                "epoch_seconds": [h["train_sec"] for h in hist], "precision": trainer.precision,
                "cuda_graphs": trainer.cuda_graphs}
        if seed >= 0:
            reference.append(r)
            ours.append(mine)
    ref, me = _summary(reference), _summary(ours)
    return {"device": str(device), "train_images": len(train), "test_images": len(test),
            "reference": {"recipe": name, "tta": tta, **ref},
            "nairrcore": {"model": "fastnet", "tta": "mirror + translate", **me},
            "train_seconds_ratio": me["mean_train_seconds"] / ref["mean_train_seconds"],
            "target_mean_accuracy": 0.94, "target_seeds": 5}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--step-batch", type=int, default=512)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--fast-seeds", type=int, default=None, help="seeds for the fast-net comparison "
                   "(default: 5 on a GPU, 0 on the CPU)")
    p.add_argument("--fast-epochs", type=float, default=None, help="override the recipes' epochs")
    p.add_argument("--reference", choices=sorted(REFERENCES), default="speedrun",
                   help="the public time-to-94%% recipe the fast net is timed against")
    p.add_argument("--fast-train-limit", type=int, default=0, help="first N training images (0: all)")
    p.add_argument("--fast-test-limit", type=int, default=0, help="first N test images (0: all)")
    p.add_argument("--skip", nargs="*", default=[], choices=["augment", "train_step"])
    p.add_argument("--out")
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = cifar10.load(args.data)
    probes = {"start": steadiness.probe_sec()}
    result = {
        "benchmark": "cifar10",
        "machine": machine(), "git": git_state(REPO),
        "versions": {"nairrcore": nairrcore.__version__, "torch": torch.__version__, "numpy": np.__version__},
        "data": data.summary(),
    }
    if "augment" not in args.skip:
        result["augment"] = bench_augment(data, args)
    if device.type == "cuda":
        result["gpu_augment"] = bench_gpu_augment(data, args)
    if "train_step" not in args.skip:
        result["train_step"] = bench_train_step(data, args, device)
    if args.fast_seeds is None:
        args.fast_seeds = 5 if device.type == "cuda" else 0
    if args.fast_seeds > 0:
        result["fast"] = bench_fast(data, args, device)
    probes["end"] = steadiness.probe_sec()
    result["steadiness"] = steadiness.steadiness(probes)
    emit(result, args.out)


if __name__ == "__main__":
    main()
