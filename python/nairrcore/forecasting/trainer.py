"""Training and evaluation of the forecasting MLP; the loop runs in C++."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch

from nairrcore._config import enable_tf32
from nairrcore._native import core as _core
from nairrcore.checkpoint import atomic_torch_save
from nairrcore.training import run_fit
from nairrcore.forecasting.config import ForecastConfig
from nairrcore.forecasting.dataset import ForecastData, Split

EpochHook = Callable[[dict], None]


class Trainer:
    """AdamW + SmoothL1 training of the spec's MLP with AMP where it pays.

    ``fit`` runs every epoch in C++ with the GIL released, calling ``on_epoch``
    with a dict per epoch (losses, train and validation seconds, samples/s).
    """

    def __init__(self, config: ForecastConfig | None = None, *, inputs: int = 37, group=None,
                 bucket_mb: float = 25.0) -> None:
        self.config = (config or ForecastConfig()).validated()
        self.device = self.config.resolve_device()
        self.precision = self.config.resolve_precision(self.device)
        self.tf32 = enable_tf32(self.device)
        model = _core.MlpConfig()
        model.inputs, model.width, model.depth = inputs, self.config.width, self.config.depth
        model.outputs, model.dropout = 3, self.config.dropout
        model.fused_blocks = self.config.fused_blocks
        self._model_config = model
        self._impl: _core.ForecastTrainer | None = None
        self._group, self._bucket_mb = group, bucket_mb
        self.history: list[dict] = []

    def _fit_config(self, data: ForecastData | None) -> "_core.FitConfig":
        c = self.config
        fit = _core.FitConfig()
        fit.epochs, fit.batch_size, fit.lr, fit.weight_decay = c.epochs, c.batch_size, c.lr, c.weight_decay
        fit.seed, fit.device, fit.precision = c.seed, str(self.device), self.precision
        fit.workers, fit.prefetch, fit.accumulate = c.workers, c.prefetch, c.accumulate
        fit.cuda_graphs = c.cuda_graphs
        fit.data_on_device = self._data_fits_on_device(data) if c.data_on_device is None else c.data_on_device
        return fit

    def _data_fits_on_device(self, data: ForecastData | None) -> bool:
        if self.device.type != "cuda" or data is None:
            return False
        need = data.train.x.nbytes + data.train.y.nbytes
        free, _ = torch.cuda.mem_get_info(self.device)
        return need < 0.5 * free

    def _ensure(self, data: ForecastData | None) -> "_core.ForecastTrainer":
        if self._impl is None:
            self._impl = _core.ForecastTrainer(self._model_config, self._fit_config(data))
            if self._group is not None:
                self._impl.set_data_parallel(self._group, self._bucket_mb)
        return self._impl

    @property
    def num_parameters(self) -> int:
        return self._ensure(None).num_parameters

    @property
    def cuda_graphs(self) -> str:
        """How the last fit ran its steps: "on: captured ...", "off: <why>" or "failed, eager: <error>"."""
        return self._ensure(None).cuda_graphs

    def fit(self, data: ForecastData, on_epoch: EpochHook | None = None, progress: bool = False,
            recorder=None, checkpoint=None, resume: str | None = None, preempt_exit_code: int = 85,
            profiler=None) -> list[dict]:
        impl = self._ensure(data)
        train, val = data.train, data.val
        return run_fit(self, "forecasting",
                       lambda eh, sh, every: impl.fit(train.x, train.y, val.x, val.y, eh, sh, every),
                       total_epochs=self.config.epochs, on_epoch=on_epoch, progress=progress, recorder=recorder,
                       checkpoint=checkpoint, resume=resume, preempt_exit_code=preempt_exit_code,
                       profiler=profiler,
                       postfix=lambda d: dict(train=f"{d['train_loss']:.4f}", val=f"{d['val_loss']:.4f}",
                                              rate=f"{d['samples_per_sec']:.0f}/s"))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Next-day tmax, tmin (°F) and prcp (in) for standardised feature rows."""
        return self._ensure(None).predict(x)

    def loss(self, split: Split) -> float:
        return self._ensure(None).loss(split.x, split.y)

    def evaluate(self, split: Split, data: ForecastData) -> dict:
        """MAE and RMSE per target in original units, overall and per city."""
        m = self._ensure(None).evaluate(split.x, split.y, split.city, len(data.cities))
        targets = data.targets
        per_city = []
        for i, city in enumerate(data.cities):
            n = int(m.city_count[i])
            if n == 0:
                continue
            row = {"id": city["id"], "name": city["name"], "rows": n}
            row.update({f"mae_{t}": float(m.city_mae[i, k]) for k, t in enumerate(targets)})
            row.update({f"rmse_{t}": float(m.city_rmse[i, k]) for k, t in enumerate(targets)})
            per_city.append(row)
        return {
            "rows": m.rows,
            "mae": dict(zip(targets, m.mae)),
            "rmse": dict(zip(targets, m.rmse)),
            "per_city": per_city,
        }

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self._ensure(None).state_dict())

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._ensure(None).load_state_dict(state)

    def save(self, path: str | os.PathLike, data: ForecastData | None = None) -> Path:
        """Weights, model shape and scaler in one file loadable with ``load_model``;
        written to a temporary file and renamed, so it is never half-written."""
        m = self._model_config
        ckpt = {
            "state_dict": self.state_dict(),
            "model": {"inputs": m.inputs, "width": m.width, "depth": m.depth, "outputs": m.outputs,
                      "dropout": m.dropout},
            "config": self.config.as_dict(),
            "precision": self.precision,
        }
        if data is not None:
            ckpt.update(feature_names=data.feature_names, mean=data.mean, scale=data.scale,
                        targets=list(data.targets))
        return atomic_torch_save(ckpt, path)
