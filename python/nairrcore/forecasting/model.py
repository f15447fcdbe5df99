"""Python twin of the C++ MLP (same parameter names): a saved model used
with plain torch, without nairrcore's core, and the baselines' model."""

from __future__ import annotations

import os

import torch
from torch import nn


class MLP(nn.Module):
    """depth x [Linear(width) -> LayerNorm -> GELU -> Dropout] -> Linear(outputs)."""

    def __init__(self, inputs: int = 37, width: int = 1024, depth: int = 8, outputs: int = 3,
                 dropout: float = 0.1, norm_eps: float = 1e-5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        n_in = inputs
        for _ in range(depth):
            layers += [nn.Linear(n_in, width), nn.LayerNorm(width, eps=norm_eps), nn.GELU(), nn.Dropout(dropout)]
            n_in = width
        layers.append(nn.Linear(n_in, outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def load_torch_module(path: str | os.PathLike) -> tuple[MLP, dict]:
    """A model saved by ``Trainer.save`` as a plain torch module; returns
    (module in eval mode, the saved file's contents: scaler, feature names, settings)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    cfg = ckpt["model"]
    model = MLP(cfg["inputs"], cfg["width"], cfg["depth"], cfg["outputs"], cfg["dropout"], cfg.get("norm_eps", 1e-5))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt
