"""Python twin of the C++ MLP, for loading saved weights and for baselines."""

from __future__ import annotations

import os

import torch
from torch import nn


class MLP(nn.Module):
    """depth x [Linear(width) -> LayerNorm -> GELU -> Dropout] -> Linear(outputs)."""

    def __init__(self, inputs: int = 37, width: int = 1024, depth: int = 8, outputs: int = 3,
                 dropout: float = 0.1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        n_in = inputs
        for _ in range(depth):
            layers += [nn.Linear(n_in, width), nn.LayerNorm(width), nn.GELU(), nn.Dropout(dropout)]
            n_in = width
        layers.append(nn.Linear(n_in, outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def load_model(path: str | os.PathLike) -> tuple[MLP, dict]:
    """Rebuild a model saved by ``Trainer.save``; returns (model in eval mode, checkpoint)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    cfg = ckpt["model"]
    model = MLP(cfg["inputs"], cfg["width"], cfg["depth"], cfg["outputs"], cfg["dropout"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt
