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
from nairrcore.evidence.telemetry import COLUMNS as TELEMETRY_COLUMNS, Sampler

EPOCH_COLUMNS = ["epoch", "train_loss", "val_loss", "train_sec", "val_sec", "epoch_sec", "samples_per_sec"]
SCHEMA_VERSION = 1


def new_run_id() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


class RunRecorder:
    """Writes epoch_timing.csv, test_metrics.json, run_config.json, telemetry.csv
    and run_summary.json into ``run_dir``; every write is atomic."""

    def __init__(self, run_dir: str | os.PathLike, workload: str, platform: str = "laptop") -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.workload = workload
        self.platform = check_platform(platform)
        self.epochs: list[dict] = []
        self.phases: dict[str, float] = {}
        self._config: dict = {}
        self._t0 = time.perf_counter()
        self._first_batch_sec: float | None = None
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

    def config(self, **values) -> None:
        self._config.update(values)
        write_json(self.run_dir / "run_config.json", {"workload": self.workload, "platform": self.platform,
                                                      "schema_version": SCHEMA_VERSION, **self._config})

    def epoch(self, stats: dict) -> None:
        self.epochs.append(dict(stats))
        self._sampler.phase = f"train_epoch_{stats['epoch']}"
        write_csv(self.run_dir / "epoch_timing.csv", EPOCH_COLUMNS, self.epochs)

    def metrics(self, metrics: dict) -> None:
        write_json(self.run_dir / "test_metrics.json", metrics)

    def finish(self, status: str = "completed", **extra) -> dict:
        telemetry = self._sampler.stop()
        write_csv(self.run_dir / "telemetry.csv", TELEMETRY_COLUMNS, telemetry)
        train_sec = sum(e["train_sec"] for e in self.epochs)
        samples = sum(e.get("train_samples", 0) for e in self.epochs)
        host = _core.host_stats()
        summary = {
            "status": status,
            "schema_version": SCHEMA_VERSION,
            "wall_sec": time.perf_counter() - self._t0,
            "training_sec": train_sec,
            "validation_sec": sum(e["val_sec"] for e in self.epochs),
            "data_prep_sec": self.phases.get("data_prep"),
            "epochs": len(self.epochs),
            "mean_train_sec_per_epoch": train_sec / len(self.epochs) if self.epochs else None,
            "train_samples_per_sec": samples / train_sec if train_sec else None,
            "peak_host_rss_bytes": host["peak_rss_bytes"],
            "phases_sec": self.phases,
            **extra,
        }
        try:
            import torch

            if torch.cuda.is_initialized():
                summary["peak_gpu_mem_bytes"] = torch.cuda.max_memory_allocated()
        except ImportError:
            pass
        summary.setdefault("peak_gpu_mem_bytes", None)
        # Utilisation needs NVML sampling, which this version does not do yet.
        summary.setdefault("mean_gpu_util_train_percent", None)
        write_json(self.run_dir / "run_summary.json", summary)
        return summary
