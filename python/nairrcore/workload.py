"""One interface for every workload: its settings class, how to load its
data, a trainer with fit/evaluate/predict/save, how to reload a saved model,
and its headline metric with the direction that is better. The command line
(``train``), sweeps and reports use workloads only through it, so a third
workload (yours) plugs in with ``register()`` without touching the package.

A run's ``test_metrics.json`` carries the headline (name, value, direction,
and optionally a ``reference``: a trivial predictor's value on the same rows,
such as forecasting's persistence, with its name and description), so reports
read it from the run folder, whatever workload wrote it.
"""

from __future__ import annotations

import abc
import difflib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from nairrcore.errors import ConfigError, DataError
from nairrcore.settings import RunOptions, Settings
from nairrcore.training.metrics import is_number


@dataclass(frozen=True)
class Metric:
    name: str              # key of test_metrics.json's "headline", e.g. "mae_tmax"
    lower_is_better: bool
    description: str = ""


class Trainer(Protocol):
    """What every workload's trainer offers."""

    config: Settings
    device: torch.device
    precision: str
    history: list[dict]

    options: RunOptions

    def fit(self, data: Any, on_epoch=None, progress: bool = False, recorder=None) -> list[dict]: ...
    def evaluate(self, split: Any) -> dict: ...
    def predict(self, x: torch.Tensor) -> torch.Tensor: ...
    def save(self, path: str | os.PathLike) -> Path: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...
    def core_settings(self) -> dict: ...


class Workload(abc.ABC):
    """Subclass it, set the three class attributes, implement the four methods."""

    name: str
    settings: type[Settings]
    headline: Metric

    def config(self, defaults: dict | None = None, environ: dict | None = None, namespace: dict | None = None,
               **overrides) -> Settings:
        """Settings from the class defaults, ``defaults``, NAIRRCORE_<FIELD>
        variables, a notebook's injected parameters (``namespace=globals()``)
        and ``overrides``."""
        return self.settings.from_env(defaults, environ, namespace, **overrides)

    @abc.abstractmethod
    def load_data(self, config: Settings) -> Any:
        """The data the settings describe, with ``.train``, ``.val``, ``.test``,
        ``.fingerprint`` (content hash and counts) and ``.summary()``."""

    @abc.abstractmethod
    def trainer(self, config: Settings, data: Any = None, group=None, options: RunOptions | None = None) -> Trainer:
        """A trainer for ``config`` (``data`` when its shape depends on it; ``group``: data parallel;
        ``options``: how it runs, RunOptions.from_env() when None)."""

    @abc.abstractmethod
    def load_model(self, path: str | os.PathLike, device: str = "cpu") -> Trainer:
        """A trainer holding the weights ``Trainer.save`` wrote."""

    @abc.abstractmethod
    def headline_value(self, metrics: dict) -> float:
        """The headline metric's value within ``evaluate``'s result."""

    def test_metrics(self, trainer: Trainer, data: Any) -> dict:
        """``evaluate(data.test)`` with the headline added: what test_metrics.json
        holds. A test split whose headline is undefined (no rows) is a
        DataError: the run's score would be over nothing."""
        metrics = trainer.evaluate(data.test)
        value = self.headline_value(metrics)
        if not is_number(value):
            raise DataError(f"{self.name}: test split: {metrics.get('note') or 'the headline metric is undefined'}; "
                            f"{self.headline.name} is {value!r}, so the run has no score (choose data or a split "
                            "that leaves test rows)")
        metrics["headline"] = {"name": self.headline.name, "value": value,
                               "lower_is_better": self.headline.lower_is_better}
        return metrics


WORKLOADS: dict[str, Workload] = {}


def register(workload: Workload) -> Workload:
    """Makes ``workload`` known by its name (to ``nairrcore train``, sweeps, ``get``)."""
    if not getattr(workload, "name", ""):
        raise ConfigError("workload: a workload needs a name")
    WORKLOADS[workload.name] = workload
    return workload


def get(name: str) -> Workload:
    """A registered workload by name, or the one a module registers: a Python
    file (``path/to/my_workload.py``) or an importable module
    (``mypackage.my_workload``) that calls ``register``."""
    if name not in WORKLOADS and (name.endswith(".py") or "." in name):
        return _import_workload(name)
    if name not in WORKLOADS:
        close = difflib.get_close_matches(name, list(WORKLOADS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"workload: unknown workload {name!r}, known: {sorted(WORKLOADS)}{hint}")
    return WORKLOADS[name]


def _module_file(module) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def _import_workload(spec: str) -> Workload:
    try:
        if spec.endswith(".py"):
            path = Path(spec).resolve()
            if not path.is_file():
                raise ConfigError(f"workload: {spec}: no such file")
            # a private module name: a file called like an imported module (json.py) replaces nothing
            name = f"_nairrcore_workload_{path.stem}"
            module = next((m for m in (sys.modules.get(path.stem), sys.modules.get(name))
                           if m is not None and _module_file(m) == path), None)
            if module is None:
                module_spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(module_spec)
                sys.modules[name] = module
                module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(spec)
    except ImportError as exc:
        raise ConfigError(f"workload: cannot import {spec!r}: {exc}") from exc
    found = [w for w in WORKLOADS.values() if type(w).__module__ == module.__name__]
    if len(found) != 1:
        raise ConfigError(f"workload: {spec!r} registers {len(found)} workloads; expected one "
                          "(call nairrcore.register(MyWorkload()) once in it)")
    return found[0]


def ensemble_predictions(workload: Workload, paths: list[str | os.PathLike], x: torch.Tensor) -> torch.Tensor:
    """The mean of the predictions of the models saved at ``paths`` (class
    probabilities for a classifier): an ensemble's prediction."""
    return torch.stack([workload.load_model(p).predict(x) for p in paths]).mean(0)


def headline(metrics: dict) -> tuple[str, float, bool] | None:
    """(name, value, lower_is_better) of a run's test metrics: the recorded
    headline, else the known keys of runs written before it was recorded."""
    h = metrics.get("headline")
    if isinstance(h, dict) and {"name", "value", "lower_is_better"} <= set(h):
        return h["name"], h["value"], bool(h["lower_is_better"])
    if "top1_accuracy" in metrics:
        return "top1_accuracy", metrics["top1_accuracy"], False
    if isinstance(metrics.get("mae"), dict) and "tmax" in metrics["mae"]:
        return "mae_tmax", metrics["mae"]["tmax"], True
    return None


def headline_reference(metrics: dict) -> tuple[str, float, str] | None:
    """(name, value, description or "") of the trivial predictor a run's
    headline was set against, if recorded."""
    ref = (metrics.get("headline") or {}).get("reference")
    if isinstance(ref, dict) and isinstance(ref.get("name"), str) and isinstance(ref.get("value"), (int, float)):
        return ref["name"], float(ref["value"]), str(ref.get("description") or "")
    return None
