"""Configuration of the forecasting workload, with the spec's defaults."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

import torch

from nairrcore.errors import ConfigError

ENV_PREFIX = "NAIRRCORE_"


@dataclass(frozen=True)
class ForecastConfig:
    data: str | None = None              # USdata folder or archive; None: fetch("weather")
    cities: int = 210                    # first N cities by ID (0 or 210: all)
    city_ids: tuple[str, ...] = ()       # explicit IDs instead of the first N
    lags: tuple[int, ...] = (1, 3, 7, 14, 30, 60)   # rows
    windows: tuple[int, ...] = (7, 30)   # rows
    width: int = 1024                    # hidden units
    depth: int = 8                       # hidden blocks
    dropout: float = 0.1                 # probability
    lr: float = 3e-4                     # AdamW learning rate
    weight_decay: float = 1e-2           # AdamW decoupled weight decay
    batch_size: int = 8192               # rows per step
    epochs: int = 50
    seed: int = 42
    device: str = "auto"                 # "auto" | "cpu" | "cuda" | "cuda:N"
    precision: str = "auto"              # "auto" | "fp32" | "bf16" | "fp16"
    data_on_device: bool | None = None   # GPU: keep data resident (None: when it fits)
    workers: int = 1                     # loader threads when streaming
    prefetch: int = 4                    # batches ready ahead
    threads: int = 0                     # feature threads (0: all cores)
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_env(cls, defaults: dict | None = None, environ: dict | None = None) -> "ForecastConfig":
        """The spec's defaults, then ``defaults`` (e.g. a notebook's small
        configuration), then ``NAIRRCORE_<FIELD>`` variables (NAIRRCORE_EPOCHS=3)."""
        environ = os.environ if environ is None else environ
        values = dict(defaults or {})
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f.name, raw, f.default)
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown forecasting settings: {sorted(unknown)}")
        return cls(**values).validated()

    def validated(self) -> "ForecastConfig":
        checks = [
            ("cities", self.cities >= 0, "expected >= 0"),
            ("width", self.width >= 1, "expected >= 1"),
            ("depth", self.depth >= 1, "expected >= 1"),
            ("dropout", 0 <= self.dropout < 1, "expected 0 <= p < 1"),
            ("lr", self.lr > 0, "expected > 0"),
            ("batch_size", self.batch_size >= 1, "expected >= 1"),
            ("epochs", self.epochs >= 0, "expected >= 0"),
            ("precision", self.precision in ("auto", "fp32", "bf16", "fp16"), "expected auto, fp32, bf16 or fp16"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise ConfigError(f"{name}: {why}, got {getattr(self, name)!r}")
        return self

    def resolve_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(self.device)
        except RuntimeError as exc:
            raise ConfigError(f"device: expected auto, cpu, cuda or cuda:N, got {self.device!r}") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device: {self.device!r} requested but no CUDA GPU is visible")
        return device

    def resolve_precision(self, device: torch.device) -> str:
        """auto: bf16 on GPUs of compute capability >= 8.0, fp16 on older GPUs, fp32 on CPU."""
        if self.precision != "auto":
            return self.precision
        if device.type != "cuda":
            return "fp32"
        major, _ = torch.cuda.get_device_capability(device)
        return "bf16" if major >= 8 else "fp16"

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("extra")
        return d


def _parse(name: str, raw: str, default):
    try:
        if isinstance(default, bool) or name == "data_on_device":
            if raw.lower() in ("", "none", "auto"):
                return None
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(default, tuple):
            items = [s.strip() for s in raw.split(",") if s.strip()]
            return tuple(items) if name == "city_ids" else tuple(int(s) for s in items)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        return raw or None if name == "data" else raw
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: cannot parse {raw!r} ({exc})") from exc
