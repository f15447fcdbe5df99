"""The forecasting workload behind the common Workload interface."""

from __future__ import annotations

from nairrcore.data.weather import ForecastData, load
from nairrcore.forecasting.config import ForecastConfig
from nairrcore.forecasting.trainer import Trainer, load_model
from nairrcore.workload import Metric, Workload, register


class Forecasting(Workload):
    name = "forecasting"
    settings = ForecastConfig
    headline = Metric("mae_tmax", lower_is_better=True, description="test MAE of next-day tmax, °F")

    def load_data(self, config: ForecastConfig) -> ForecastData:
        return load(config.data, cities=config.city_ids or config.cities, lags=config.lags, windows=config.windows,
                    threads=config.threads, in_memory=config.in_memory)

    def trainer(self, config: ForecastConfig, data: ForecastData | None = None, group=None,
                bucket_mb: float = 25.0) -> Trainer:
        # lat, lon, sin/cos of the day, 3 variables x (lags, diff, mean and std per window)
        inputs = data.num_features if data is not None else 4 + 3 * (len(config.lags) + 1 + 2 * len(config.windows))
        return Trainer(config, inputs=inputs, group=group, bucket_mb=bucket_mb)

    def load_model(self, path, device: str = "cpu") -> Trainer:
        return load_model(path, device)

    def headline_value(self, metrics: dict) -> float:
        return metrics["mae"]["tmax"]


WORKLOAD = register(Forecasting())
