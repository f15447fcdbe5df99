"""The CIFAR-10 workload's settings: the only source of every value the
core's models, augmentation and training loop use. Settings left at None take
the chosen model's recipe (RECIPES)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from nairrcore.data.cifar10 import CLASSES, MEAN, STD
from nairrcore.errors import ConfigError
from nairrcore.settings import Settings, check, check_precision, setting


def _fastnet_recipe() -> dict:
    # The public time-to-94% recipe's hyper-parameters, in torch SGD terms:
    # its learning rate is per "kilostep" with summed (not averaged) losses.
    batch, momentum = 1024, 0.85
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    lr = 11.5 / kilostep
    decay = 0.0153 * batch / kilostep
    bias_lr = lr * 64.0
    # A record-style recipe: it trains on all 50,000 images and reports the
    # test accuracy only (no validation split).
    return dict(epochs=10, batch_size=batch, lr=lr, weight_decay=decay / lr, bias_lr=bias_lr,
                bias_weight_decay=decay / bias_lr, momentum=momentum, nesterov=True, label_smoothing=0.2,
                loss_sum=True, lr_start=0.2, lr_peak=0.23, lr_end=0.07, lookahead=True, pad=2, cutout=0,
                widths=(64, 256, 256), whiten_width=24, whiten_bias_epochs=3, bn_momentum=0.4, head_scale=1 / 9,
                tta_translate=True, alternate_flip=True, val_size=0)


RECIPES: dict[str, dict] = {
    # SGD + Nesterov, linear warm-up over 15% of the steps then linear decay,
    # weight decay on conv/linear weights only, label smoothing 0.1; 5,000
    # training images held out for validation.
    "resnet18": dict(epochs=30, batch_size=512, lr=0.4, weight_decay=5e-4, bias_lr=0.4,
                     bias_weight_decay=0.0, momentum=0.9, nesterov=True, label_smoothing=0.1, loss_sum=False,
                     lr_start=0.1, lr_peak=0.15, lr_end=0.0, lookahead=False, pad=4, cutout=0,
                     widths=(64, 128, 256, 512), whiten_width=0, whiten_bias_epochs=0, bn_momentum=0.1,
                     head_scale=1.0, tta_translate=False, alternate_flip=False, val_size=5000),
    "fastnet": _fastnet_recipe(),
}
# Fields whose value comes from the model's recipe unless set.
RECIPE_FIELDS = tuple(RECIPES["resnet18"])


@dataclass(frozen=True)
class Cifar10Config(Settings):
    data: str | None = setting(None, "", "cifar-10-binary.tar.gz, its folder or a folder of *.bin.xz; None: fetched")
    model: str = setting("resnet18", "", "resnet18 or fastnet")
    train_limit: int = setting(0, "images", "first N training images (0: all 50,000)")
    test_limit: int = setting(0, "images", "first N test images (0: all 10,000)")
    val_size: int | None = setting(None, "images", "training images held out for validation (0: none; "
                                   "the run then reports test accuracy only)")
    epochs: int | None = setting(None, "epochs", "passes over the training images")
    batch_size: int | None = setting(None, "images", "images per (micro-)batch, over all ranks")
    lr: float | None = setting(None, "per step", "SGD learning rate of conv and linear weights")
    weight_decay: float | None = setting(None, "", "weight decay of conv and linear weights")
    bias_lr: float | None = setting(None, "per step", "learning rate of BatchNorm parameters and biases")
    bias_weight_decay: float | None = setting(None, "", "weight decay of BatchNorm parameters and biases")
    momentum: float | None = setting(None, "", "SGD momentum")
    nesterov: bool | None = setting(None, "", "Nesterov momentum")
    label_smoothing: float | None = setting(None, "probability", "label smoothing of the loss")
    loss_sum: bool | None = setting(None, "", "sum the loss over the batch instead of averaging")
    lr_start: float | None = setting(None, "x lr", "schedule: factor at the first step")
    lr_peak: float | None = setting(None, "fraction of steps", "schedule: where the factor reaches 1")
    lr_end: float | None = setting(None, "x lr", "schedule: factor at the last step")
    lookahead: bool | None = setting(None, "", "lookahead averaging of the weights every 5 steps")
    pad: int | None = setting(None, "pixels", "random-crop padding")
    reflect: bool = setting(True, "", "reflect padding, else zeros")
    flip: bool = setting(True, "", "random horizontal flips")
    alternate_flip: bool | None = setting(None, "", "flip each image the other way every odd epoch")
    cutout: int | None = setting(None, "pixels", "side of the cutout square (0: off)")
    normalize_mean: tuple[float, ...] = setting(MEAN, "pixel value / 255", "per-channel mean subtracted")
    normalize_std: tuple[float, ...] = setting(STD, "pixel value / 255", "per-channel std divided by")
    widths: tuple[int, ...] | None = setting(None, "channels", "resnet18: 4 stage widths; fastnet: 3 conv group widths")
    whiten_width: int | None = setting(None, "filters", "fastnet: patch-whitening filters")
    whiten_bias_epochs: int | None = setting(None, "epochs", "fastnet: epochs the whitening bias trains")
    bn_momentum: float | None = setting(None, "", "BatchNorm momentum (weight of the new batch)")
    head_scale: float | None = setting(None, "", "fastnet: logit scale")
    tta: bool = setting(True, "", "evaluation averages each image and its mirror")
    tta_translate: bool | None = setting(None, "", "... and one-pixel shifts of both")
    eval_batch_size: int = setting(1000, "images", "images per batch when evaluating")
    seed: int = setting(42, "", "seed of initialisation, validation split, shuffling and augmentation")
    device: str = setting("auto", "", "auto, cpu, cuda or cuda:N")
    precision: str = setting("auto", "", "auto, fp32, bf16 or fp16 (auto: bf16/fp16 on GPUs, fp32 on the CPU; "
                             "the fast net: fp16 on GPUs of compute capability >= 7, as its recipe)")
    channels_last: bool = setting(True, "", "channels-last memory format")
    data_on_device: bool | None = setting(None, "", "GPU: keep the images on the device (None: yes)")
    workers: int = setting(2, "threads", "augmentation threads when streaming")
    prefetch: int = setting(4, "batches", "batches the loader keeps ready")
    accumulate: int = setting(1, "batches", "micro-batches per optimiser step")
    sync_batch_norm: bool = setting(False, "", "data parallel: BatchNorm statistics over all ranks")
    cuda_graphs: bool = setting(True, "", "GPU: replay each full batch's step from a CUDA graph")

    def validated(self) -> "Cifar10Config":
        if self.model not in RECIPES:
            raise ConfigError(f"model: expected one of {sorted(RECIPES)}, got {self.model!r}")
        r = self.recipe()
        check([
            ("train_limit", self.train_limit >= 0, "expected >= 0", self.train_limit),
            ("test_limit", self.test_limit >= 0, "expected >= 0", self.test_limit),
            ("val_size", r["val_size"] >= 0, "expected >= 0", r["val_size"]),
            ("epochs", r["epochs"] >= 0, "expected >= 0", r["epochs"]),
            ("batch_size", r["batch_size"] >= 2, "expected >= 2", r["batch_size"]),
            ("widths", len(r["widths"]) == len(RECIPES[self.model]["widths"]) and min(r["widths"]) >= 1,
             f"{self.model} takes {len(RECIPES[self.model]['widths'])} widths >= 1", r["widths"]),
            ("lr", 0 < r["lr"] < float("inf"), "expected a finite value > 0", r["lr"]),
            ("bias_lr", 0 < r["bias_lr"] < float("inf"), "expected a finite value > 0", r["bias_lr"]),
            ("momentum", 0 <= r["momentum"] < 1, "expected 0 <= momentum < 1", r["momentum"]),
            ("label_smoothing", 0 <= r["label_smoothing"] < 1, "expected 0 <= x < 1", r["label_smoothing"]),
            ("pad", 0 <= r["pad"] < 32, "expected 0..31", r["pad"]),
            ("cutout", 0 <= r["cutout"] <= 32, "expected 0..32", r["cutout"]),
            ("normalize_mean", len(self.normalize_mean) == 3, "expected 3 values", self.normalize_mean),
            ("normalize_std", len(self.normalize_std) == 3 and min(self.normalize_std) > 0,
             "expected 3 values > 0", self.normalize_std),
            ("eval_batch_size", self.eval_batch_size >= 1, "expected >= 1", self.eval_batch_size),
            ("workers", self.workers >= 0, "expected >= 0", self.workers),
            ("prefetch", self.prefetch >= 1, "expected >= 1", self.prefetch),
            ("accumulate", self.accumulate >= 1, "expected >= 1", self.accumulate),
            ("precision", self.precision in ("auto", "fp32", "bf16", "fp16"), "expected auto, fp32, bf16 or fp16",
             self.precision),
        ])
        return self

    def resolve_precision(self, device: torch.device) -> str:
        # The fast net's recipe trains in fp16. Its BatchNorm then runs on cuDNN's
        # NHWC kernels, which torch does not use for bf16: on an H100, 0.18 s of GPU
        # time in a 10-epoch run, against 0.33 s for torch's bf16 kernels.
        if self.precision == "auto" and self.model == "fastnet" and device.type == "cuda":
            capability = torch.cuda.get_device_capability(device)
            if capability[0] >= 7:
                return check_precision("fp16", "cuda", capability)
        return super().resolve_precision(device)

    def recipe(self) -> dict:
        """The model's recipe with every setting given here applied on top."""
        r = dict(RECIPES[self.model])
        for key in r:
            value = getattr(self, key)
            if value is not None:
                r[key] = value
        return r

    def as_dict(self) -> dict:
        """Every setting with the recipe's values filled in: what the run used."""
        d = dataclasses.asdict(self)
        d.update(self.recipe())
        return d


__all__ = ["CLASSES", "Cifar10Config", "RECIPES"]
