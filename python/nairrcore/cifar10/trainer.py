"""Training and evaluation of the CIFAR-10 classifiers; the loop runs in C++."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch

from nairrcore._native import core as _core
from nairrcore.cifar10.config import Cifar10Config
from nairrcore.data.cifar10 import CLASSES, Cifar10Data, ImageSet
from nairrcore.files import save_torch
from nairrcore.loaders import augment_spec
from nairrcore.settings import RunOptions, core_fields, enable_tf32, to_core
from nairrcore.training.fit import run_fit
from nairrcore.training.metrics import with_empty_note

EpochHook = Callable[[dict], None]


class Trainer:
    """ResNet-18 or the fast net on CIFAR-10, with the model's recipe.

    ``fit`` runs every epoch in C++ with the GIL released and evaluates the
    validation images (if any) after each one, calling ``on_epoch`` with a
    dict per epoch.
    """

    def __init__(self, config: Cifar10Config | None = None, *, group=None, options: RunOptions | None = None) -> None:
        self.config = (config or Cifar10Config()).validated()
        self.options = options or RunOptions.from_env()
        self.device = self.config.resolve_device()
        self.precision = self.config.resolve_precision(self.device)
        self.tf32 = enable_tf32(self.device)
        r, c = self.config.recipe(), self.config
        values = {**c.as_dict(), **r}
        model = to_core(_core.ImageModelConfig, values, {"name": c.model, "classes": len(CLASSES)})
        fit = to_core(_core.ImageFitConfig, values, {
            "tta_translate": c.tta and r["tta_translate"], "device": str(self.device), "precision": self.precision,
            "data_on_device": True if c.data_on_device is None else c.data_on_device,
            "augment": augment_spec(r["pad"], c.reflect, c.flip, r["cutout"], mean=c.normalize_mean,
                                    std=c.normalize_std, alternate_flip=r["alternate_flip"])})
        self._model_config, self._fit_config = model, fit
        self._impl = _core.ImageTrainer(model, fit)
        self._group = group
        if group is not None:
            self._impl.set_data_parallel(group, self.options.bucket_mb)
        self.history: list[dict] = []

    @property
    def num_parameters(self) -> int:
        return self._impl.num_parameters

    @property
    def cuda_graphs(self) -> str:
        """How the last fit ran its steps: "on: captured ...", "off: <why>" or "failed, eager: <error>"."""
        return self._impl.cuda_graphs

    def core_settings(self) -> dict:
        """Every value the C++ model and loop received (what the run used)."""
        fit = core_fields(self._fit_config)
        fit["augment"] = core_fields(fit["augment"])
        return {"model": core_fields(self._model_config), "fit": fit}

    def fit(self, data: Cifar10Data, on_epoch: EpochHook | None = None, progress: bool = False,
            recorder=None) -> list[dict]:
        train, val = data.train, data.val
        return run_fit(self, "cifar10", self._impl,
                       lambda eh, sh, every: self._impl.fit(train.images, train.labels, val.images, val.labels,
                                                            eh, sh, every),
                       total_epochs=self._fit_config.epochs, dataset=data.fingerprint, on_epoch=on_epoch,
                       progress=progress, recorder=recorder,
                       postfix=lambda d: dict(loss=f"{d['train_loss']:.3f}", acc=f"{d.get('val_accuracy', 0):.3f}",
                                              rate=f"{d['samples_per_sec']:.0f}/s"))

    def evaluate(self, split: ImageSet) -> dict:
        """Top-1 accuracy (with the configured test-time augmentation), loss,
        per-class accuracy, confusion matrix and the predicted classes."""
        m = self._impl.evaluate(split.images, split.labels)
        confusion = m["confusion"]
        per_class = (confusion.diag().double() / confusion.sum(1).double()).tolist()  # no image: NaN, never 0
        out = {"samples": m["samples"], "accuracy": m["accuracy"], "loss": m["loss"],
               "per_class_accuracy": dict(zip(CLASSES, per_class)), "confusion": confusion.tolist(),
               "predicted": m["predicted"].tolist()}
        return with_empty_note(out, m["samples"], "images")

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities, float32 [N, 10]."""
        return self._impl.predict_proba(images)

    predict_proba = predict

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self._impl.state_dict())

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._impl.load_state_dict(state)

    def save(self, path: str | os.PathLike) -> Path:
        """Weights and settings in one file for ``load_model``, written atomically."""
        return save_torch({"state_dict": self.state_dict(), "config": self.config.as_dict(), "workload": "cifar10"},
                          path)


def load_model(path: str | os.PathLike, device: str = "cpu") -> Trainer:
    """A Trainer holding the weights ``Trainer.save`` wrote."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in ckpt["config"].items()
              if k in Cifar10Config.names()}
    trainer = Trainer(Cifar10Config(**{**fields, "device": device}))
    trainer.load_state_dict(ckpt["state_dict"])
    return trainer
