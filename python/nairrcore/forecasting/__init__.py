"""Workload 1: next-day weather forecasting over 210 U.S. cities."""

from nairrcore.data.weather import ForecastData, Split, load
from nairrcore.forecasting.config import ForecastConfig
from nairrcore.forecasting.model import MLP, load_torch_module
from nairrcore.forecasting.trainer import Trainer, load_model
from nairrcore.forecasting.workload import WORKLOAD

__all__ = ["ForecastConfig", "ForecastData", "MLP", "Split", "Trainer", "WORKLOAD", "load", "load_model",
           "load_torch_module"]
