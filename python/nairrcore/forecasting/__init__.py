"""Workload 1: next-day weather forecasting over 210 U.S. cities."""

from nairrcore.forecasting.config import ForecastConfig
from nairrcore.forecasting.dataset import ForecastData, Split, load
from nairrcore.forecasting.model import MLP, load_model
from nairrcore.forecasting.trainer import Trainer

__all__ = ["ForecastConfig", "ForecastData", "MLP", "Split", "Trainer", "load", "load_model"]
