"""Telemetry rows from the C++ sampler thread (NVML through dlopen, host CPU
and RSS of this process or of a watched process tree), about once a second,
with the current phase marker, and what they add up to: mean GPU
utilisation and the GPUs' energy over a window."""

from __future__ import annotations

from nairrcore._native import core as _core
from nairrcore.evidence.energy import rapl_energy, total_kwh

COLUMNS = ["time_unix", "elapsed_sec", "phase", "cpu_percent", "rss_bytes", "gpu_index", "gpu_util_percent",
           "gpu_mem_bytes", "gpu_power_w", "gpu_energy_j"]
TRAIN_PHASE_PREFIX = "train_epoch_"


class Sampler:
    """``pid`` 0: this process; else that process and its descendants, summed."""

    def __init__(self, interval: float = 1.0, pid: int = 0) -> None:
        self._impl = _core.TelemetrySampler(interval, pid)

    def start(self) -> "Sampler":
        self._impl.start()
        return self

    def sample_now(self) -> None:
        """One row now, besides the periodic ones."""
        self._impl.sample_now()

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
                rows.append({**base, "gpu_index": "", "gpu_util_percent": "", "gpu_mem_bytes": "", "gpu_power_w": "",
                             "gpu_energy_j": ""})
            for g in s["gpus"]:
                rows.append({**base, "gpu_index": g["index"], "gpu_util_percent": _blank(g["util_percent"]),
                             "gpu_mem_bytes": _blank(g["mem_used_bytes"]), "gpu_power_w": _blank(g["power_w"]),
                             "gpu_energy_j": _blank(g["energy_j"])})
        return rows


class TrainingPhases:
    """A training loop's phase marks (train_epoch_N, validation_epoch_N,
    between_epochs) on a bare Sampler, so its rows say when the loop trained:
    pass it to a trainer's ``fit`` as ``recorder`` where utilisation is wanted
    without a run folder (the benchmarks). It keeps the epochs' statistics and
    writes nothing."""

    run_dir = None  # no folder: fit writes no profile

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


def mean_gpu_util(rows: list[dict]) -> tuple[float | None, int]:
    """(mean GPU utilisation over every sample and GPU, or None with fewer
    than MIN_UTIL_SAMPLES samples; the number of samples): a whole run's,
    where no training window is known."""
    values = [float(r["gpu_util_percent"]) for r in rows if r.get("gpu_util_percent") not in ("", None)]
    return (sum(values) / len(values) if len(values) >= MIN_UTIL_SAMPLES else None), len(values)


def gpu_energy(rows: list[dict], gpu: dict) -> dict:
    """The GPUs' energy over the sampled window, from each board's energy
    counter (its difference between the first and last sample, not power
    times time): per GPU and in total, in joules and kWh, with the window's
    length; or the reason there is none, never a zero."""
    if not gpu.get("available"):
        return {"gpu_j": None, "reason": f"no GPU telemetry: {gpu.get('reason', 'unknown')}"}
    per_gpu: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        if r.get("gpu_energy_j") not in ("", None) and r.get("gpu_index") not in ("", None):
            per_gpu.setdefault(str(r["gpu_index"]), []).append((float(r["elapsed_sec"]), float(r["gpu_energy_j"])))
    if not per_gpu:
        return {"gpu_j": None, "reason": "the GPU or driver offers no energy counter (NVML needs Volta or newer)"}
    if any(len(v) < 2 for v in per_gpu.values()):
        return {"gpu_j": None, "reason": "fewer than two energy readings: the run was shorter than the sampling"}
    joules = {k: max(0.0, v[-1][1] - v[0][1]) for k, v in per_gpu.items()}
    window = max(v[-1][0] - v[0][0] for v in per_gpu.values())
    total = sum(joules.values())
    return {"gpu_j": total, "gpu_kwh": total / 3.6e6, "per_gpu_j": joules, "window_sec": window,
            "source": "NVML total energy counter, difference over the window (telemetry.csv)"}


def train_gpu_energy(rows: list[dict]) -> dict:
    """The GPUs' energy over the training window: for each train_epoch_N
    phase, the counter's difference from the row taken as the phase began to
    the row taken as the next phase began (the recorder samples at every phase
    change, so an epoch shorter than the sampling interval is still bounded by
    two readings). {} where the rows hold no such pair."""
    per_epoch: dict[str, float] = {}
    by_gpu: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("gpu_energy_j") not in ("", None):
            by_gpu.setdefault(str(r["gpu_index"]), []).append(r)
    for series in by_gpu.values():
        for i, r in enumerate(series):
            phase = str(r.get("phase", ""))
            if not phase.startswith(TRAIN_PHASE_PREFIX) or (i and series[i - 1].get("phase") == phase):
                continue
            end = next((e for e in series[i + 1:] if e.get("phase") != phase), None)
            if end is not None:
                per_epoch[phase] = per_epoch.get(phase, 0.0) + max(0.0, float(end["gpu_energy_j"]) -
                                                                   float(r["gpu_energy_j"]))
    if not per_epoch:
        return {}
    total = sum(per_epoch.values())
    return {"train_gpu_j": total, "train_epochs_measured": len(per_epoch),
            "gpu_kwh_per_epoch": total / len(per_epoch) / 3.6e6,
            "train_uncertainty": "each epoch's window is bounded by the samples taken as its phase began and "
                                 "ended (the counter's resolution is 1 mJ)"}


def run_energy(rows: list[dict], gpu: dict, rapl_start: tuple, rapl_end: tuple) -> dict:
    """The run's energy: the GPUs' from the telemetry rows (over the run and,
    where phases are known, the training window), the CPU package's and
    DRAM's from RAPL, and their total in kWh with what it covers."""
    energy = {**gpu_energy(rows, gpu), **train_gpu_energy(rows), **rapl_energy(rapl_start, rapl_end)}
    energy["kwh"], energy["covers"] = total_kwh(energy)
    return energy
