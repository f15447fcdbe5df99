"""Training and evaluation of the forecasting MLP; the loop runs in C++."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch

from nairrcore._native import core as _core
from nairrcore.data.weather import ForecastData, Split
from nairrcore.files import save_torch
from nairrcore.forecasting.config import ForecastConfig
from nairrcore.settings import RunOptions, core_fields, enable_tf32, to_core
from nairrcore.training.fit import run_fit
from nairrcore.training.metrics import with_empty_note

EpochHook = Callable[[dict], None]


class Trainer:
    """AdamW + SmoothL1 training of the spec's MLP with AMP where it pays.

    ``fit`` runs every epoch in C++ with the GIL released, calling ``on_epoch``
    with a dict per epoch (losses, train and validation seconds, samples/s).
    ``inputs`` is the number of features (``data.num_features``).
    """

    def __init__(self, config: ForecastConfig | None = None, *, inputs: int = 37, group=None,
                 options: RunOptions | None = None) -> None:
        self.config = (config or ForecastConfig()).validated()
        self.device = self.config.resolve_device()
        self.precision = self.config.resolve_precision(self.device)
        self.tf32 = enable_tf32(self.device)
        self._model_config = to_core(_core.MlpConfig, self.config.as_dict(), {"inputs": inputs, "outputs": 3})
        self._impl: _core.ForecastTrainer | None = None
        self._group = group
        self.options = options or RunOptions.from_env()
        self._model_info: dict | None = None
        self.history: list[dict] = []

    def _fit_config(self) -> "_core.FitConfig":
        # data_on_device None: decided by fit() once the data is known
        return to_core(_core.FitConfig, self.config.as_dict(), {
            "device": str(self.device), "precision": self.precision,
            "data_on_device": bool(self.config.data_on_device)})

    def _data_fits_on_device(self, data: ForecastData) -> bool:
        if self.device.type != "cuda":
            return False
        need = data.train.x.nbytes + data.train.y.nbytes
        free, _ = torch.cuda.mem_get_info(self.device)
        return need < 0.5 * free

    def _ensure(self) -> "_core.ForecastTrainer":
        if self._impl is None:
            self._core_fit = self._fit_config()
            self._impl = _core.ForecastTrainer(self._model_config, self._core_fit)
            if self._group is not None:
                self._impl.set_data_parallel(self._group, self.options.bucket_mb)
        return self._impl

    @property
    def layer_shape(self) -> tuple[int, int, int]:
        """(rows, inputs, outputs) of a hidden layer's products in a training
        step: the shape the CPU matrix library is chosen for."""
        return min(self.config.batch_size, 8192), self.config.width, self.config.width

    @property
    def num_parameters(self) -> int:
        return self._ensure().num_parameters

    @property
    def cuda_graphs(self) -> str:
        """How the last fit ran its steps: "on: captured ...", "off: <why>" or "failed, eager: <error>"."""
        return self._ensure().cuda_graphs

    def core_settings(self) -> dict:
        """Every value the C++ model and loop received (what the run used)."""
        self._ensure()
        return {"model": core_fields(self._model_config), "fit": core_fields(self._core_fit)}

    def fit(self, data: ForecastData, on_epoch: EpochHook | None = None, progress: bool = False,
            recorder=None) -> list[dict]:
        impl = self._ensure()
        if self.config.data_on_device is None:
            self._core_fit.data_on_device = self._data_fits_on_device(data)
            impl.set_data_on_device(self._core_fit.data_on_device)
        self._model_info = data.model_info()
        train, val = data.train, data.val
        return run_fit(self, "forecasting", impl,
                       lambda eh, sh, every: impl.fit(train.x, train.y, val.x, val.y, eh, sh, every),
                       total_epochs=self.config.epochs, dataset=data.fingerprint, on_epoch=on_epoch,
                       progress=progress, recorder=recorder,
                       postfix=lambda d: dict(train=f"{d['train_loss']:.4f}", val=f"{d['val_loss']:.4f}",
                                              rate=f"{d['samples_per_sec']:.0f}/s"))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Next-day tmax, tmin (°F) and prcp (in) for standardised feature rows."""
        return self._ensure().predict(x)

    def loss(self, split: Split) -> float:
        return self._ensure().loss(split.x, split.y)

    def evaluate(self, split: Split) -> dict:
        """MAE and RMSE per target in original units, overall and per city
        (cities without a row in the split are listed, not averaged)."""
        m = self._ensure().evaluate(split.x, split.y, split.city, len(split.cities))
        targets = split.targets
        per_city, missing = [], []
        for i, city in enumerate(split.cities):
            n = int(m.city_count[i])
            if n == 0:
                missing.append(city["name"])
                continue
            row = {"id": city["id"], "name": city["name"], "rows": n}
            row.update({f"mae_{t}": float(m.city_mae[i, k]) for k, t in enumerate(targets)})
            row.update({f"rmse_{t}": float(m.city_rmse[i, k]) for k, t in enumerate(targets)})
            per_city.append(row)
        return with_empty_note({"rows": m.rows, "mae": dict(zip(targets, m.mae)), "rmse": dict(zip(targets, m.rmse)),
                                "per_city": per_city, "cities_without_rows": missing}, m.rows, "rows")

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self._ensure().state_dict())

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._ensure().load_state_dict(state)

    def save(self, path: str | os.PathLike, data: ForecastData | None = None) -> Path:
        """Weights, model shape, settings and (after a fit, or from ``data``)
        the feature names and scaler, in one file for ``load_model``; written
        atomically."""
        m = self._model_config
        ckpt = {
            "workload": "forecasting",
            "state_dict": self.state_dict(),
            "model": {"inputs": m.inputs, "width": m.width, "depth": m.depth, "outputs": m.outputs,
                      "dropout": m.dropout, "norm_eps": m.norm_eps},
            "config": self.config.as_dict(),
            "precision": self.precision,
        }
        info = data.model_info() if data is not None else self._model_info
        if info is not None:
            ckpt.update(info)
        return save_torch(ckpt, path)


def load_model(path: str | os.PathLike, device: str = "cpu") -> Trainer:
    """A Trainer holding the weights ``Trainer.save`` wrote (``model_info``:
    its feature names and scaler, when saved)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in ckpt["config"].items()
              if k in ForecastConfig.names()}
    trainer = Trainer(ForecastConfig(**{**fields, "device": device}), inputs=ckpt["model"]["inputs"])
    trainer.load_state_dict(ckpt["state_dict"])
    if "feature_names" in ckpt:
        trainer._model_info = {k: ckpt[k] for k in ("feature_names", "mean", "scale", "targets")}
    return trainer
