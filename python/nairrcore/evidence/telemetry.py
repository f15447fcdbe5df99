"""Telemetry rows from the C++ sampler thread (NVML through dlopen, host CPU
and RSS), about once a second, with the current phase marker."""

from __future__ import annotations

from nairrcore._native import core as _core

COLUMNS = ["time_unix", "elapsed_sec", "phase", "cpu_percent", "rss_bytes", "gpu_index", "gpu_util_percent",
           "gpu_mem_bytes", "gpu_power_w"]
TRAIN_PHASE_PREFIX = "train_epoch_"


class Sampler:
    def __init__(self, interval: float = 1.0) -> None:
        self._impl = _core.TelemetrySampler(interval)

    def start(self) -> "Sampler":
        self._impl.start()
        return self

    @property
    def phase(self) -> str:
        return self._impl.phase

    @phase.setter
    def phase(self, value: str) -> None:
        self._impl.phase = value

    @property
    def gpu(self) -> dict:
        if self._impl.gpu_available:
            return {"available": True, "names": list(self._impl.gpu_names)}
        return {"available": False, "reason": self._impl.gpu_absent_reason}

    def stop(self) -> list[dict]:
        """One row per sample and GPU (one row per sample without GPUs)."""
        rows = []
        for s in self._impl.stop():
            base = {k: s[k] for k in ("time_unix", "elapsed_sec", "phase", "rss_bytes")}
            base["time_unix"] = round(base["time_unix"], 3)
            base["elapsed_sec"] = round(base["elapsed_sec"], 3)
            base["cpu_percent"] = round(s["cpu_percent"], 1)
            if not s["gpus"]:
                rows.append({**base, "gpu_index": "", "gpu_util_percent": "", "gpu_mem_bytes": "", "gpu_power_w": ""})
            for g in s["gpus"]:
                rows.append({**base, "gpu_index": g["index"], "gpu_util_percent": _blank(g["util_percent"]),
                             "gpu_mem_bytes": _blank(g["mem_used_bytes"]), "gpu_power_w": _blank(g["power_w"])})
        return rows


class TrainingPhases:
    """A training loop's phase marks (train_epoch_N, validation_epoch_N,
    between_epochs) on a bare Sampler, so its rows say when the loop trained:
    pass it to a trainer's ``fit`` as ``recorder`` where utilisation is wanted
    without a run folder (the benchmarks). It keeps the epochs' statistics and
    writes nothing."""

    run_dir = None  # no folder: fit takes no checkpoint or profile options from the environment

    def __init__(self, sampler: Sampler) -> None:
        self._sampler = sampler
        self.epochs: list[dict] = []

    def mark(self, phase: str) -> None:
        self._sampler.phase = phase

    def step(self) -> None:
        pass

    def epoch(self, stats: dict) -> None:
        self.epochs.append(dict(stats))

    def restore_epochs(self, epochs: list[dict]) -> None:
        self.epochs = [dict(e) for e in epochs]

    def config(self, **values) -> None:
        pass


def _blank(v):
    return "" if v is None else v


# Fewer samples than this (a training window of a second or two) say nothing
# about utilisation: NVML averages over its own short period, so one sample
# taken during warm-up would read as an idle GPU.
MIN_UTIL_SAMPLES = 3


def train_gpu_util_samples(rows: list[dict]) -> list[float]:
    """The GPU utilisation samples taken while an epoch was training."""
    return [float(r["gpu_util_percent"]) for r in rows
            if str(r.get("phase", "")).startswith(TRAIN_PHASE_PREFIX) and r.get("gpu_util_percent") not in ("", None)]


def mean_train_gpu_util(rows: list[dict]) -> float | None:
    """Mean GPU utilisation over the training window, or None with fewer than
    MIN_UTIL_SAMPLES samples in it."""
    values = train_gpu_util_samples(rows)
    return sum(values) / len(values) if len(values) >= MIN_UTIL_SAMPLES else None


def peak_gpu_mem(rows: list[dict]) -> int | None:
    values = [int(float(r["gpu_mem_bytes"])) for r in rows if r.get("gpu_mem_bytes") not in ("", None)]
    return max(values) if values else None
