"""Configuration of the CIFAR-10 workload. Settings left at None take the
chosen model's recipe (RECIPES)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nairrcore._config import EnvConfig
from nairrcore.errors import ConfigError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _fastnet_recipe() -> dict:
    # The public time-to-94% recipe's hyper-parameters, in torch SGD terms:
    # its learning rate is per "kilostep" with summed (not averaged) losses.
    batch, momentum = 1024, 0.85
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    lr = 11.5 / kilostep
    decay = 0.0153 * batch / kilostep
    bias_lr = lr * 64.0
    return dict(epochs=10, batch_size=batch, lr=lr, weight_decay=decay / lr, bias_lr=bias_lr,
                bias_weight_decay=decay / bias_lr, momentum=momentum, label_smoothing=0.2, loss_sum=True,
                lr_start=0.2, lr_peak=0.23, lr_end=0.07, lookahead=True, pad=2, cutout=0,
                widths=(64, 256, 256), tta_translate=True, alternate_flip=True)


RECIPES: dict[str, dict] = {
    # SGD + Nesterov, linear warm-up over 15% of the steps then linear decay,
    # weight decay on conv/linear weights only, label smoothing 0.1.
    "resnet18": dict(epochs=30, batch_size=512, lr=0.4, weight_decay=5e-4, bias_lr=0.4,
                     bias_weight_decay=0.0, momentum=0.9, label_smoothing=0.1, loss_sum=False,
                     lr_start=0.1, lr_peak=0.15, lr_end=0.0, lookahead=False, pad=4, cutout=0,
                     widths=(64, 256, 256), tta_translate=False, alternate_flip=False),
    "fastnet": _fastnet_recipe(),
}


@dataclass(frozen=True)
class Cifar10Config(EnvConfig):
    data: str | None = None              # folder, cifar-10-binary.tar.gz or *.bin.xz folder; None: fetch
    model: str = "resnet18"              # "resnet18" | "fastnet"
    train_limit: int = 0                 # first N training images (0: all 50,000)
    test_limit: int = 0                  # first N test images (0: all 10,000)
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None              # weights' group
    weight_decay: float | None = None
    bias_lr: float | None = None         # BatchNorm and bias group
    bias_weight_decay: float | None = None
    momentum: float | None = None
    label_smoothing: float | None = None
    loss_sum: bool | None = None
    lr_start: float | None = None        # schedule: start -> 1 at peak -> end (factors)
    lr_peak: float | None = None         # fraction of the steps
    lr_end: float | None = None
    lookahead: bool | None = None
    pad: int | None = None               # random-crop padding (pixels)
    reflect: bool = True                 # reflect padding, else zeros
    flip: bool = True
    alternate_flip: bool | None = None   # flip each image the other way every odd epoch (fastnet: yes)
    cutout: int | None = None            # square side, 0: off
    widths: tuple[int, ...] | None = None  # fastnet conv group widths
    tta: bool = True                     # flip test-time augmentation
    tta_translate: bool | None = None    # also one-pixel shifts (fastnet's recipe: yes)
    seed: int = 42
    device: str = "auto"
    precision: str = "auto"              # "auto" | "fp32" | "bf16" | "fp16"
    channels_last: bool = True
    data_on_device: bool | None = None   # GPU: keep the data set resident (None: yes)
    workers: int = 2                     # loader threads when streaming
    prefetch: int = 4
    accumulate: int = 1                  # micro-batches per optimiser step
    sync_batch_norm: bool = False        # data parallel: BatchNorm statistics over all ranks
    cuda_graphs: bool = True             # GPU: replay each full batch's step from a CUDA graph

    def validated(self) -> "Cifar10Config":
        if self.model not in RECIPES:
            raise ConfigError(f"model: expected one of {sorted(RECIPES)}, got {self.model!r}")
        r = self.recipe()
        checks = [
            ("train_limit", self.train_limit >= 0, "expected >= 0"),
            ("test_limit", self.test_limit >= 0, "expected >= 0"),
            ("epochs", r["epochs"] >= 0, "expected >= 0"),
            ("batch_size", r["batch_size"] >= 2, "expected >= 2"),
            ("lr", r["lr"] > 0, "expected > 0"),
            ("momentum", 0 <= r["momentum"] < 1, "expected 0 <= momentum < 1"),
            ("label_smoothing", 0 <= r["label_smoothing"] < 1, "expected 0 <= x < 1"),
            ("pad", 0 <= r["pad"] < 32, "expected 0..31"),
            ("cutout", 0 <= r["cutout"] <= 32, "expected 0..32"),
            ("workers", self.workers >= 0, "expected >= 0"),
            ("accumulate", self.accumulate >= 1, "expected >= 1"),
            ("precision", self.precision in ("auto", "fp32", "bf16", "fp16"), "expected auto, fp32, bf16 or fp16"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise ConfigError(f"{name}: {why}, got {r.get(name, getattr(self, name, None))!r}")
        return self

    def recipe(self) -> dict:
        """The model's recipe with every setting given here applied on top."""
        r = dict(RECIPES[self.model])
        for key in r:
            value = getattr(self, key)
            if value is not None:
                r[key] = value
        return r

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.update(self.recipe())
        return d
