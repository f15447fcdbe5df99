"""One recorder per run: the training code reports into it, never ad hoc."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import time
import uuid
from pathlib import Path

from nairrcore._native import core as _core
from nairrcore.evidence.files import write_csv, write_json
from nairrcore.evidence.platforms import check_platform
from nairrcore.evidence.telemetry import COLUMNS as TELEMETRY_COLUMNS, Sampler, mean_train_gpu_util, peak_gpu_mem

EPOCH_COLUMNS = ["epoch", "train_loss", "val_loss", "train_sec", "val_sec", "epoch_sec", "samples_per_sec",
                 "train_samples", "data_wait_sec", "val_accuracy"]
BENCHMARK_ROW_COLUMNS = ["platform", "workload", "run_id", "status", "epochs", "mean_epoch_sec", "training_sec",
                         "wall_sec", "samples_per_sec", "mean_gpu_util_percent", "peak_gpu_mem_bytes",
                         "metric", "metric_value"]
SCHEMA_VERSION = 1


def new_run_id() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def headline_metric(metrics: dict) -> tuple[str, float] | None:
    """The one number a comparison table shows for a workload's test metrics."""
    if "top1_accuracy" in metrics:
        return "top1_accuracy", metrics["top1_accuracy"]
    if isinstance(metrics.get("mae"), dict) and "tmax" in metrics["mae"]:
        return "mae_tmax", metrics["mae"]["tmax"]
    return None


class RunRecorder:
    """Writes epoch_timing.csv, test_metrics.json, run_config.json, telemetry.csv,
    run_summary.json and benchmark_row.csv into ``run_dir``; every write is atomic."""

    def __init__(self, run_dir: str | os.PathLike, workload: str, platform: str = "laptop") -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.workload = workload
        self.platform = check_platform(platform)
        self.epochs: list[dict] = []
        self.phases: dict[str, float] = {}
        self._config: dict = {}
        self._metrics: dict = {}
        self._t0 = time.perf_counter()
        self._first_step_sec: float | None = None
        self._sampler = Sampler().start()

    @classmethod
    def from_env(cls, workload: str) -> "RunRecorder":
        """Inside ``nairrcore run`` the run folder comes from NAIRRCORE_RUN_DIR; run by
        hand, a new folder under ./outputs/<platform>/<workload>/ is made."""
        platform = os.environ.get("NAIRRCORE_PLATFORM", "laptop")
        run_dir = os.environ.get("NAIRRCORE_RUN_DIR")
        if not run_dir:
            root = Path(os.environ.get("NAIRRCORE_OUTPUTS", "outputs"))
            run_dir = root / platform / workload / new_run_id()
        return cls(run_dir, workload, platform)

    @contextlib.contextmanager
    def phase(self, name: str):
        """Times a phase (e.g. "data_prep", "train", "test") and marks telemetry with it."""
        previous = self._sampler.phase
        self._sampler.phase = name
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - t0
            self._sampler.phase = previous

    def mark(self, phase: str) -> None:
        """Phase marker from a training loop: "train_epoch_N" or "validation_epoch_N"."""
        self._sampler.phase = phase

    def step(self) -> None:
        """Called after a training step; only the first one is timed (time to first batch)."""
        if self._first_step_sec is None:
            self._first_step_sec = time.perf_counter() - self._t0

    def config(self, **values) -> None:
        self._config.update(values)
        write_json(self.run_dir / "run_config.json", {"workload": self.workload, "platform": self.platform,
                                                      "schema_version": SCHEMA_VERSION, "cpu_matmul": _core.cpu_matmul(),
                                                      "cpu_block_cache": _core.cpu_block_cache(),
                                                      **self._config})

    def epoch(self, stats: dict) -> None:
        self.epochs.append(dict(stats))
        write_csv(self.run_dir / "epoch_timing.csv", EPOCH_COLUMNS, self.epochs)

    def fit_options(self) -> dict:
        """fit() arguments from the environment ``nairrcore run`` sets up:
        checkpoints in $NAIRRCORE_CHECKPOINT_DIR (kept across restarts of a job,
        unlike the run folder) resumed from automatically, and a profile of
        $NAIRRCORE_PROFILE_STEPS training steps into <run>/profile/."""
        options = {}
        directory = os.environ.get("NAIRRCORE_CHECKPOINT_DIR")
        if directory:
            from nairrcore.checkpoint import CheckpointManager

            every = float(os.environ.get("NAIRRCORE_CHECKPOINT_MINUTES", "10"))
            options.update(checkpoint=CheckpointManager(Path(directory) / self.workload, every_seconds=60 * every),
                           resume="auto")
        steps = int(os.environ.get("NAIRRCORE_PROFILE_STEPS", "0") or 0)
        if steps > 0:
            from nairrcore.training import StepProfiler

            options["profiler"] = StepProfiler(self.run_dir / "profile", steps=steps)
        return options

    def restore_epochs(self, epochs: list[dict]) -> None:
        """The epochs recorded before a checkpoint this run resumed from."""
        self.epochs = [dict(e) for e in epochs]
        write_csv(self.run_dir / "epoch_timing.csv", EPOCH_COLUMNS, self.epochs)

    def metrics(self, metrics: dict) -> None:
        self._metrics = metrics
        write_json(self.run_dir / "test_metrics.json", metrics)

    def finish(self, status: str = "completed", **extra) -> dict:
        telemetry = self._sampler.stop()
        write_csv(self.run_dir / "telemetry.csv", TELEMETRY_COLUMNS, telemetry)
        train_sec = sum(e["train_sec"] for e in self.epochs)
        samples = sum(e.get("train_samples", 0) for e in self.epochs)
        host = _core.host_stats()
        gpu_mem = peak_gpu_mem(telemetry)
        try:
            import torch

            if torch.cuda.is_initialized():
                gpu_mem = max(gpu_mem or 0, torch.cuda.max_memory_reserved())
        except ImportError:
            pass
        summary = {
            "status": status,
            "schema_version": SCHEMA_VERSION,
            "workload": self.workload,
            "platform": self.platform,
            "wall_sec": time.perf_counter() - self._t0,
            "training_sec": train_sec,
            "validation_sec": sum(e["val_sec"] for e in self.epochs),
            "data_prep_sec": self.phases.get("data_prep"),
            "time_to_first_batch_sec": self._first_step_sec,
            "data_wait_sec": sum(e.get("data_wait_sec", 0.0) for e in self.epochs),
            "epochs": len(self.epochs),
            "mean_train_sec_per_epoch": train_sec / len(self.epochs) if self.epochs else None,
            "train_samples_per_sec": samples / train_sec if train_sec else None,
            "peak_host_rss_bytes": host["peak_rss_bytes"],
            "peak_gpu_mem_bytes": gpu_mem,
            "mean_gpu_util_train_percent": mean_train_gpu_util(telemetry),
            "gpu_telemetry": self._sampler.gpu,
            "phases_sec": self.phases,
            **extra,
        }
        write_json(self.run_dir / "run_summary.json", summary)
        metric = headline_metric(self._metrics)
        write_csv(self.run_dir / "benchmark_row.csv", BENCHMARK_ROW_COLUMNS, [{
            "platform": self.platform, "workload": self.workload, "run_id": self.run_dir.name, "status": status,
            "epochs": len(self.epochs), "mean_epoch_sec": summary["mean_train_sec_per_epoch"],
            "training_sec": train_sec, "wall_sec": summary["wall_sec"],
            "samples_per_sec": summary["train_samples_per_sec"],
            "mean_gpu_util_percent": summary["mean_gpu_util_train_percent"], "peak_gpu_mem_bytes": gpu_mem,
            "metric": metric[0] if metric else "", "metric_value": metric[1] if metric else ""}])
        return summary
