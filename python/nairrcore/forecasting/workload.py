"""The forecasting workload behind the common Workload interface."""

from __future__ import annotations

from nairrcore.data.weather import ForecastData, load
from nairrcore.forecasting.config import ForecastConfig
from nairrcore.forecasting.trainer import Trainer, load_model
from nairrcore.workload import Metric, Workload, register
from nairrcore.settings import RunOptions


class Forecasting(Workload):
    name = "forecasting"
    settings = ForecastConfig
    headline = Metric("mae_tmax", lower_is_better=True, description="test MAE of next-day tmax, °F")

    def load_data(self, config: ForecastConfig) -> ForecastData:
        return load(config.data, cities=config.city_ids or config.cities, lags=config.lags, windows=config.windows,
                    threads=config.threads, in_memory=config.in_memory)

    def trainer(self, config: ForecastConfig, data: ForecastData | None = None, group=None,
                options: RunOptions | None = None) -> Trainer:
        # lat, lon, sin/cos of the day, 3 variables x (lags, diff, mean and std per window)
        inputs = data.num_features if data is not None else 4 + 3 * (len(config.lags) + 1 + 2 * len(config.windows))
        return Trainer(config, inputs=inputs, group=group, options=options)

    def load_model(self, path, device: str = "cpu") -> Trainer:
        return load_model(path, device)

    def headline_value(self, metrics: dict) -> float:
        return metrics["mae"]["tmax"]

    def test_metrics(self, trainer: Trainer, data: ForecastData) -> dict:
        """``evaluate`` plus the persistence forecast (tomorrow equals today) on
        the same rows, overall and per city, and the model's MAE skill over it
        (1 - MAE / persistence MAE: above 0 means the model beats it)."""
        metrics = super().test_metrics(trainer, data)
        reference = persistence_metrics(data, "test")
        if reference is None:
            return metrics
        per_city = reference.pop("per_city")
        for row in metrics["per_city"]:
            row.update(per_city[row["id"]])
        metrics["persistence"] = reference
        metrics["mae_skill_over_persistence"] = {
            t: 1 - metrics["mae"][t] / ref if ref > 0 else None for t, ref in reference["mae"].items()}
        metrics["headline"]["reference"] = {"name": "persistence", "description": PERSISTENCE,
                                            "value": reference["mae"]["tmax"]}
        return metrics


PERSISTENCE = "tomorrow equals today, on the same rows"


def persistence_metrics(data: ForecastData, split: str) -> dict | None:
    """MAE and RMSE of the persistence forecast per target, overall and per
    city ID (``mae_persistence_<target>``); None without lag-1 features."""
    today = data.persistence(split)
    if today is None:
        return None
    part = getattr(data, split)
    err = today - part.y.double()
    targets = data.targets
    per_city = {}
    for i, city in enumerate(part.cities):
        rows = err[part.city == i]
        if len(rows):
            per_city[city["id"]] = {f"mae_persistence_{t}": float(v) for t, v in zip(targets, rows.abs().mean(0))}
    return {"forecast": PERSISTENCE, "rows": len(part),
            "mae": {t: float(v) for t, v in zip(targets, err.abs().mean(0))},
            "rmse": {t: float(v) for t, v in zip(targets, err.pow(2).mean(0).sqrt())},
            "per_city": per_city}


WORKLOAD = register(Forecasting())
