"""Run folders as the reports read them: nairrcore's own (any schema version)
and the layout of the notebook workflow nairrcore replaces (``legacy.py``).

What hardware a run used comes from what the run recorded (device, GPU
name and count, CPU model), never from its platform's name; a run whose
recorded hardware contradicts its platform profile is reported as such.
"""

from __future__ import annotations

import csv
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

    steps: list[dict] = field(default_factory=list)
    # Files of the run that could not be read (empty, broken): reported as left out, the rest still used.
    unreadable: list[str] = field(default_factory=list)

    @property
    def legacy(self) -> bool:
        return bool(self.limitations)

    @property
    def hardware_unknown(self) -> bool:
        """A legacy run whose files do not say whether it used a GPU: it gets no cost."""
        return self.legacy and self.device is None

    @property
    def plain(self) -> bool:
        """Code that did not record itself, watched from outside (``nairrcore run``)."""
        return self.summary.get("kind") == "plain"

    @property
    def code(self) -> dict:
        return self.metadata.get("code") or {}

    @property
    def parameters(self) -> dict:
        return self.metadata.get("parameters") or {}

    @property
    def inputs(self) -> list[dict] | None:
        """The declared inputs with their hashes; None where none were declared."""
        return self.metadata.get("inputs") or None

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
        """The device the run recorded it trained on ("cpu", "cuda:0"), or None
        if it did not say; for a plain run, whether it had a GPU to use (what
        its allocation is billed for)."""
        if self.plain:
            return "cuda" if (self.metadata.get("gpu") or {}).get("count") else "cpu"
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
        if self.plain:  # the whole run's, with at least MIN_UTIL_SAMPLES samples
            return self.summary.get("mean_gpu_util_percent")
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


EPOCH_NUMBERS = ("train_sec", "epoch_sec")


def _rows(path: Path, numbers: tuple[str, ...]) -> list[dict]:
    """A CSV file's rows; ConfigError where it cannot be read or a column the
    reports compute with is not a number."""
    if not path.is_file():
        return []
    try:
        rows = read_csv_rows(path)
    except (UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc})") from exc
    for i, row in enumerate(rows, 2):
        bad = [k for k in numbers if row.get(k) is not None and not isinstance(row.get(k), (int, float))]
        if bad:
            raise ConfigError(f"{path}:{i}: {bad[0]} is {row[bad[0]]!r}, not a number")
    return rows


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def load_run(path: str | Path) -> Run:
    """A nairrcore run folder; older runs without run_metadata.json take their
    platform and workload from the outputs/<platform>/<workload>/<run_id> path."""
    path = Path(path)
    summary = _object(path / "run_summary.json")
    if not summary:
        raise ConfigError(f"{path}: not a run folder (no run_summary.json)")
    if summary.get("status") == "completed" and not _number(summary.get("wall_sec")):
        raise ConfigError(f"{path / 'run_summary.json'}: wall_sec is {summary.get('wall_sec')!r}, not a number "
                          "(a completed run records its wall time)")
    meta = _object(path / "run_metadata.json")
    platform = meta.get("platform") or summary.get("platform") or path.parent.parent.name
    workload = meta.get("workload") or summary.get("workload") or path.parent.name
    epochs = _rows(path / "epoch_timing.csv", EPOCH_NUMBERS)
    telemetry = _rows(path / "telemetry.csv", ())
    steps = _rows(path / "steps.csv", ("duration_sec",))
    return Run(path, platform, workload, summary, meta, epochs, _object(path / "test_metrics.json"), telemetry,
               steps=steps)


def plain_differences(run: Run, base: Run) -> list[str]:
    """Why two plain runs are not the same work: code, parameters or inputs, each said."""
    reasons = []
    if run.code.get("sha256") != base.code.get("sha256"):
        reasons.append(f"code differs from the baseline's ({run.code.get('path') or '?'} sha256 "
                       f"{str(run.code.get('sha256'))[:12]} against {str(base.code.get('sha256'))[:12]})")
    a, b = run.parameters, base.parameters
    if diff := sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)):
        reasons.append(f"parameters differ from the baseline's in {', '.join(diff)}")
    if run.inputs is not None and base.inputs is not None:
        mine = {i["path"]: i["sha256"] for i in run.inputs}
        theirs = {i["path"]: i["sha256"] for i in base.inputs}
        if sorted(mine.values()) != sorted(theirs.values()):
            changed = sorted(set(mine) ^ set(theirs) | {p for p in set(mine) & set(theirs) if mine[p] != theirs[p]})
            reasons.append(f"inputs differ from the baseline's ({', '.join(changed) or 'contents'})")
    elif (run.inputs is None) != (base.inputs is None):
        reasons.append("inputs declared for one run and not the other (--input)")
    return reasons


def completed(runs: list[Run], skipped: list[str] = ()) -> tuple[list[Run], list[str]]:
    """(the completed runs, a note for each folder or file left out saying
    why: ``skipped`` folders, unreadable files of a run, runs that did not complete)."""
    done = [r for r in runs if r.status == "completed"]
    notes = list(skipped)
    notes += [f"{r.path}: not completed (status {r.status}"
              + (f": {r.summary['error']}" if r.summary.get("error") else
                 ": the run never finished" if r.status == "running" else "") + "); left out"
              for r in runs if r.status != "completed"]
    notes += [f"{r.path / u.split(':', 1)[0]}:{u.split(':', 1)[1]}; left out (the rest of the run is used)"
              for r in done for u in r.unreadable]
    if not done:
        raise ConfigError("no completed runs to report on:\n  " + "\n  ".join(notes))
    return done, notes


def check_strict(strict: bool, left_out: list[str]) -> None:
    """``--strict``: any folder or file left out is an error."""
    if strict and left_out:
        raise ConfigError("--strict: left out:\n  " + "\n  ".join(left_out))


