"""An example of bringing your own workload to nairrcore, with the public API only.

Data: ``rows`` points x ~ N(0, I) in 8 dimensions (seeded), and

    y = sin(x0) + 0.5 * x1**2 - x2 * x3 + 0.3 * x4 + noise * N(0, 1)

split 80/10/10 into train, validation and test. Model: an MLP of your own.
Headline metric: test RMSE (lower is better; ``noise`` is its floor).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

import nairrcore
from nairrcore import Metric, ModelSettings, ModelTrainer, TensorData, Workload, setting
from nairrcore.training import TensorSplit

FEATURES = 8


def target(x: torch.Tensor) -> torch.Tensor:
    """The documented formula, without noise."""
    return torch.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2 - x[:, 2] * x[:, 3] + 0.3 * x[:, 4]


@dataclass(frozen=True)
class ExampleSettings(ModelSettings):
    rows: int = setting(200_000, "rows", "points generated")
    noise: float = setting(0.1, "target units", "std of the noise added to the target")
    width: int = setting(128, "units", "hidden units")
    depth: int = setting(3, "layers", "hidden layers")


class Mlp(torch.nn.Module):
    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        layers, n_in = [], FEATURES
        for _ in range(depth):
            layers += [torch.nn.Linear(n_in, width), torch.nn.SiLU()]
            n_in = width
        layers.append(torch.nn.Linear(n_in, 1))
        self.net = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ExampleRegression(Workload):
    name = "example_regression"
    settings = ExampleSettings
    headline = Metric("rmse", lower_is_better=True, description="test RMSE of y")

    def load_data(self, config: ExampleSettings) -> TensorData:
        gen = torch.Generator().manual_seed(config.seed)
        x = torch.randn(config.rows, FEATURES, generator=gen)
        y = (target(x) + config.noise * torch.randn(config.rows, generator=gen)).unsqueeze(1)
        a, b = int(0.8 * config.rows), int(0.9 * config.rows)
        split = lambda lo, hi: TensorSplit(x[lo:hi], y[lo:hi])  # noqa: E731
        return TensorData(split(0, a), split(a, b), split(b, config.rows), source="generated: y = sin(x0) + ...")

    def trainer(self, config: ExampleSettings, data=None, group=None, options=None) -> ModelTrainer:
        torch.manual_seed(config.seed)
        return ModelTrainer(Mlp(config.width, config.depth), config, workload=self.name, options=options)

    def load_model(self, path, device: str = "cpu") -> ModelTrainer:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        fields = {k: v for k, v in saved["config"].items() if k in ExampleSettings.names()}
        trainer = self.trainer(ExampleSettings(**{**fields, "device": device}))
        trainer.load_state_dict(saved["state_dict"])
        return trainer

    def headline_value(self, metrics: dict) -> float:
        return metrics["rmse_all"]


WORKLOAD = nairrcore.register(ExampleRegression())
