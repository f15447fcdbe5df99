"""The CIFAR-10 workload behind the common Workload interface."""

from __future__ import annotations

from nairrcore.cifar10.config import Cifar10Config
from nairrcore.cifar10.trainer import Trainer, load_model
from nairrcore.data.cifar10 import Cifar10Data, load
from nairrcore.workload import Metric, Workload, register
from nairrcore.settings import RunOptions


class Cifar10(Workload):
    name = "cifar10"
    settings = Cifar10Config
    headline = Metric("top1_accuracy", lower_is_better=False, description="top-1 accuracy on the test images")

    def load_data(self, config: Cifar10Config) -> Cifar10Data:
        return load(config.data, train_limit=config.train_limit, test_limit=config.test_limit,
                    val_size=config.recipe()["val_size"], seed=config.seed)

    def trainer(self, config: Cifar10Config, data: Cifar10Data | None = None, group=None,
                options: RunOptions | None = None) -> Trainer:
        return Trainer(config, group=group, options=options)

    def load_model(self, path, device: str = "cpu") -> Trainer:
        return load_model(path, device)

    def headline_value(self, metrics: dict) -> float:
        return metrics["accuracy"]

    def test_metrics(self, trainer: Trainer, data: Cifar10Data) -> dict:
        metrics = super().test_metrics(trainer, data)
        metrics["top1_accuracy"] = metrics["accuracy"]
        return metrics


WORKLOAD = register(Cifar10())
