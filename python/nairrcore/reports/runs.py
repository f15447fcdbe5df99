"""Run folders as the reports read them: nairrcore's own (any schema version)
and the layout of the notebook workflow nairrcore replaces (``legacy.py``).

What hardware a run used comes from what the run recorded (device, GPU
name and count, CPU model), never from its platform's name; a run whose
recorded hardware contradicts its platform profile is reported as such.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from nairrcore.errors import ConfigError
from nairrcore.evidence.telemetry import MIN_UTIL_SAMPLES, train_gpu_util_samples
from nairrcore.evidence.validate import read_csv_rows, read_json_object

# Settings that choose how a platform runs the workload, not what the workload is.
EXECUTION_SETTINGS = {"data", "device", "precision", "data_on_device", "workers", "prefetch", "threads",
                      "channels_last", "cuda_graphs", "fused_blocks", "in_memory", "eval_batch_size"}


@dataclass
class Run:
    path: Path
    platform: str
    workload: str
    summary: dict
    metadata: dict
    epochs: list[dict]
    metrics: dict
    telemetry: list[dict] = field(default_factory=list)
    # Runs read from another tool's layout: what they cannot show, said in every report.
    limitations: list[str] = field(default_factory=list)
    # Contradictions found while reading (platform label against the files), reported, not resolved.
    contradictions: list[str] = field(default_factory=list)

    @property
    def legacy(self) -> bool:
        return bool(self.limitations)

    @property
    def status(self) -> str:
        return str(self.summary.get("status", "completed"))

    @property
    def hyperparameters(self) -> dict:
        h = self.metadata.get("hyperparameters") or self.metadata.get("config", {}).get("config") or {}
        return {k: v for k, v in h.items() if k not in EXECUTION_SETTINGS}

    @property
    def fingerprint(self) -> str | None:
        dataset = self.metadata.get("dataset") or self.metadata.get("config", {}).get("dataset") or {}
        return dataset.get("sha256")

    @property
    def epoch_sec(self) -> float | None:
        times = [float(e["train_sec"]) for e in self.epochs if e.get("train_sec") is not None]
        return statistics.fmean(times) if times else self.summary.get("mean_train_sec_per_epoch")

    @property
    def device(self) -> str | None:
        """The device the run recorded it trained on ("cpu", "cuda:0"), or None if it did not say."""
        device = self.metadata.get("device") or self.metadata.get("config", {}).get("device")
        return str(device) if device else None

    @property
    def gpus(self) -> int:
        """GPUs the run trained on: 0 for a CPU run, whatever the machine had."""
        device = self.device
        if device is not None and not device.startswith("cuda"):
            return 0
        count = (self.metadata.get("gpu") or {}).get("count")
        return int(count) if count else (1 if device else 0)

    @property
    def gpu_util(self) -> float | None:
        """Mean GPU utilisation over the training window; None where too few
        samples fell in it to say (runs recorded before the summary counted
        them are counted from their telemetry.csv)."""
        value = self.summary.get("mean_gpu_util_train_percent")
        if value is None or self.legacy:
            return value
        n = self.summary.get("gpu_util_train_samples")
        if n is None and self.telemetry:
            n = len(train_gpu_util_samples(self.telemetry))
        return value if n is None or n >= MIN_UTIL_SAMPLES else None

    @property
    def hardware(self) -> str:
        """What trained the model, as recorded: the GPU's name, or the CPU's."""
        if self.gpus:
            name = (self.metadata.get("gpu") or {}).get("name") or "GPU (name not recorded)"
            return f"{self.gpus} x {name}" if self.gpus > 1 else name
        machine = self.metadata.get("machine") or {}
        cpu = machine.get("cpu_model")
        generation = (machine.get("cpu_id") or {}).get("microarchitecture")
        if cpu and generation and generation not in cpu:
            cpu = f"{cpu}, {generation}"
        return f"CPU ({cpu})" if cpu else "CPU" if self.device else "not recorded"


def hardware_contradiction(run: Run, profile: dict) -> str:
    """'' when the run's recorded hardware fits its platform profile, else what contradicts it."""
    if run.device is None:
        return ""
    wanted = str(profile.get("accelerator") or "any")
    profile_gpus = int(profile.get("gpus") or 0)
    if profile_gpus > 0 and run.gpus == 0:
        return (f"recorded on the CPU, but platform {run.platform!r} is a {wanted} GPU platform "
                "(a mislabelled run?)")
    if wanted in ("any", "any GPU") or run.gpus == 0:
        return "" if not (wanted == "none" and run.gpus) else f"recorded on a GPU, but {run.platform!r} has none"
    name = ((run.metadata.get("gpu") or {}).get("name") or "").lower()
    if name and not any(token.lower() in name for token in wanted.split("/")):
        return f"recorded on {run.hardware}, but platform {run.platform!r} has {wanted}"
    return ""


def _object(path: Path) -> dict:
    if not path.is_file():
        return {}
    value, problem = read_json_object(path)
    if problem:
        raise ConfigError(f"{path.parent}: {problem}")
    return value


def load_run(path: str | Path) -> Run:
    """A nairrcore run folder; older runs without run_metadata.json take their
    platform and workload from the outputs/<platform>/<workload>/<run_id> path."""
    path = Path(path)
    summary = _object(path / "run_summary.json")
    if not summary:
        raise ConfigError(f"{path}: not a run folder (no run_summary.json)")
    meta = _object(path / "run_metadata.json")
    platform = meta.get("platform") or summary.get("platform") or path.parent.parent.name
    workload = meta.get("workload") or summary.get("workload") or path.parent.name
    epochs = read_csv_rows(path / "epoch_timing.csv") if (path / "epoch_timing.csv").is_file() else []
    telemetry = read_csv_rows(path / "telemetry.csv") if (path / "telemetry.csv").is_file() else []
    return Run(path, platform, workload, summary, meta, epochs, _object(path / "test_metrics.json"), telemetry)


def completed(runs: list[Run]) -> tuple[list[Run], list[str]]:
    """(the completed runs, a note for each other one saying why it is left out)."""
    done = [r for r in runs if r.status == "completed"]
    notes = [f"{r.path}: not completed (status {r.status}"
             + (f": {r.summary['error']}" if r.summary.get("error") else
                ": the run never finished" if r.status == "running" else "") + "); left out"
             for r in runs if r.status != "completed"]
    if not done:
        raise ConfigError("no completed runs to report on:\n  " + "\n  ".join(notes))
    return done, notes


