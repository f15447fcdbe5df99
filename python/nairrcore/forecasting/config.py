"""Configuration of the forecasting workload, with the spec's defaults."""

from __future__ import annotations

from dataclasses import dataclass

from nairrcore._config import EnvConfig
from nairrcore.errors import ConfigError


@dataclass(frozen=True)
class ForecastConfig(EnvConfig):
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
    batch_size: int = 8192               # rows per (micro-)batch, over all ranks
    accumulate: int = 1                  # micro-batches per optimiser step
    epochs: int = 50
    seed: int = 42
    device: str = "auto"                 # "auto" | "cpu" | "cuda" | "cuda:N"
    precision: str = "auto"              # "auto" | "fp32" | "bf16" | "fp16"
    data_on_device: bool | None = None   # GPU: keep data resident (None: when it fits)
    workers: int = 1                     # loader threads when streaming
    prefetch: int = 4                    # batches ready ahead
    threads: int = 0                     # feature threads (0: all cores)
    in_memory: bool = False              # read an archive's members in memory, never extract
    cuda_graphs: bool = True             # GPU: replay each full batch's step from a CUDA graph
    fused_blocks: bool = True            # GPU: LayerNorm-GELU-dropout as one kernel (width <= 1024)

    def validated(self) -> "ForecastConfig":
        checks = [
            ("cities", self.cities >= 0, "expected >= 0"),
            ("width", self.width >= 1, "expected >= 1"),
            ("depth", self.depth >= 1, "expected >= 1"),
            ("dropout", 0 <= self.dropout < 1, "expected 0 <= p < 1"),
            ("lr", self.lr > 0, "expected > 0"),
            ("batch_size", self.batch_size >= 1, "expected >= 1"),
            ("accumulate", self.accumulate >= 1, "expected >= 1"),
            ("epochs", self.epochs >= 0, "expected >= 0"),
            ("precision", self.precision in ("auto", "fp32", "bf16", "fp16"), "expected auto, fp32, bf16 or fp16"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise ConfigError(f"{name}: {why}, got {getattr(self, name)!r}")
        return self

