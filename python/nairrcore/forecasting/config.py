"""The forecasting workload's settings, with the spec's defaults: the only
source of every value the core's MLP and training loop use."""

from __future__ import annotations

from dataclasses import dataclass

from nairrcore.settings import Settings, check, setting


@dataclass(frozen=True)
class ForecastConfig(Settings):
    data: str | None = setting(None, "", "USdata folder or the published archive; None: the fetched copy")
    cities: int = setting(210, "cities", "the first N cities by ID (0 or 210: all)")
    city_ids: tuple[str, ...] = setting((), "", "explicit city IDs instead of the first N")
    lags: tuple[int, ...] = setting((1, 3, 7, 14, 30, 60), "rows", "lag features, in rows of a city's series")
    windows: tuple[int, ...] = setting((7, 30), "rows", "rolling mean and std windows, in rows")
    width: int = setting(1024, "units", "hidden units per block")
    depth: int = setting(8, "blocks", "hidden blocks (Linear, LayerNorm, GELU, dropout)")
    dropout: float = setting(0.1, "probability", "dropout after every block")
    norm_eps: float = setting(1e-5, "", "LayerNorm epsilon")
    lr: float = setting(3e-4, "per step", "AdamW learning rate")
    weight_decay: float = setting(1e-2, "", "AdamW decoupled weight decay")
    adam_beta1: float = setting(0.9, "", "AdamW first-moment decay")
    adam_beta2: float = setting(0.999, "", "AdamW second-moment decay")
    adam_eps: float = setting(1e-8, "", "AdamW epsilon")
    smooth_l1_beta: float = setting(1.0, "target units", "SmoothL1 loss: quadratic below this error")
    batch_size: int = setting(8192, "rows", "rows per (micro-)batch, over all ranks")
    accumulate: int = setting(1, "batches", "micro-batches per optimiser step")
    epochs: int = setting(50, "epochs", "passes over the training rows")
    eval_batch_size: int = setting(65536, "rows", "rows per batch when evaluating")
    seed: int = setting(42, "", "seed of initialisation, shuffling and dropout")
    device: str = setting("auto", "", "auto, cpu, cuda or cuda:N")
    precision: str = setting("auto", "", "auto, fp32, bf16 or fp16 (auto: bf16/fp16 on GPUs, fp32 on the CPU)")
    data_on_device: bool | None = setting(None, "", "GPU: keep the rows on the device (None: when they fit)")
    workers: int = setting(1, "threads", "loader threads when the rows are streamed")
    prefetch: int = setting(4, "batches", "batches the loader keeps ready")
    threads: int = setting(0, "threads", "feature-building threads (0: all cores)")
    in_memory: bool = setting(False, "", "read an archive's members in memory, never extract it")
    cuda_graphs: bool = setting(True, "", "GPU: replay each full batch's step from a CUDA graph")
    fused_blocks: bool = setting(True, "", "GPU: LayerNorm-GELU-dropout as one kernel (width <= 1024)")

    def validated(self) -> "ForecastConfig":
        check([
            ("cities", 0 <= self.cities <= 210, "expected 0..210", self.cities),
            ("lags", all(v >= 1 for v in self.lags) and len(self.lags) > 0, "expected positive row counts",
             self.lags),
            ("windows", all(v >= 2 for v in self.windows), "expected windows of at least 2 rows", self.windows),
            ("width", self.width >= 1, "expected >= 1", self.width),
            ("depth", self.depth >= 1, "expected >= 1", self.depth),
            ("dropout", 0 <= self.dropout < 1, "expected 0 <= p < 1", self.dropout),
            ("norm_eps", self.norm_eps > 0, "expected > 0", self.norm_eps),
            ("lr", 0 < self.lr < float("inf"), "expected a finite value > 0", self.lr),
            ("weight_decay", 0 <= self.weight_decay < float("inf"), "expected a finite value >= 0",
             self.weight_decay),
            ("adam_beta1", 0 <= self.adam_beta1 < 1, "expected 0 <= beta < 1", self.adam_beta1),
            ("adam_beta2", 0 <= self.adam_beta2 < 1, "expected 0 <= beta < 1", self.adam_beta2),
            ("adam_eps", self.adam_eps > 0, "expected > 0", self.adam_eps),
            ("smooth_l1_beta", self.smooth_l1_beta > 0, "expected > 0", self.smooth_l1_beta),
            ("batch_size", self.batch_size >= 1, "expected >= 1", self.batch_size),
            ("accumulate", self.accumulate >= 1, "expected >= 1", self.accumulate),
            ("epochs", self.epochs >= 0, "expected >= 0", self.epochs),
            ("eval_batch_size", self.eval_batch_size >= 1, "expected >= 1", self.eval_batch_size),
            ("precision", self.precision in ("auto", "fp32", "bf16", "fp16"), "expected auto, fp32, bf16 or fp16",
             self.precision),
            ("workers", self.workers >= 0, "expected >= 0", self.workers),
            ("prefetch", self.prefetch >= 1, "expected >= 1", self.prefetch),
            ("threads", self.threads >= 0, "expected >= 0", self.threads),
        ])
        return self
