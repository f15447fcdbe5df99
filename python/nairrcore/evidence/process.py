"""Evidence of a run watched from outside: the notebook's kernel or the
user's command is a separate process tree that nairrcore samples (CPU, RSS,
every visible GPU) and times step by step (a notebook's cells, or the one
command), without the code importing nairrcore.

When the code records its own run (a ``RunRecorder`` in the kernel: the
built-in notebooks), its summary stands; the watcher adds the cell times and
its own telemetry (``process_telemetry.csv``). Otherwise the watcher writes
the whole folder: a plain run (``kind: plain``), fingerprinted by its code,
parameters and declared inputs.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import time
from pathlib import Path

from nairrcore.evidence.recorder import SCHEMA_VERSION, write_metadata
from nairrcore.evidence.run_readme import write_readme
from nairrcore.evidence.energy import rapl_read
from nairrcore.evidence.telemetry import COLUMNS as TELEMETRY_COLUMNS, Sampler, mean_gpu_util, run_energy
from nairrcore.evidence.validate import read_csv_rows, read_json_object
from nairrcore.files import write_csv, write_json, write_manifest

STEP_COLUMNS = ["step", "kind", "label", "start_unix", "end_unix", "duration_sec", "status"]
PLAIN = "plain"


def iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat()


def tracked_epochs(run_dir: Path) -> dict:
    """What the code's own tracking calls (``nairrcore.track``) recorded of its epochs."""
    path = run_dir / "epoch_timing.csv"
    if not path.is_file():
        return {}
    epochs = read_csv_rows(path)
    train_sec = sum(float(e["train_sec"]) for e in epochs)
    samples = sum(int(e["train_samples"] or 0) for e in epochs)
    return {"epochs": len(epochs), "training_sec": train_sec,
            "mean_train_sec_per_epoch": train_sec / len(epochs) if epochs else None,
            "train_samples_per_sec": samples / train_sec if train_sec else None}


def first_line(source: str, width: int = 60) -> str:
    """A step's label: its first line that is not blank or a comment."""
    for line in source.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()[:width]
    return source.strip().splitlines()[0][:width] if source.strip() else ""


class ProcessWatch:
    """Times the steps of the watched process and samples it; writes the run folder at ``finish``."""

    def __init__(self, run_dir: Path, name: str, platform: str, *, code: dict, parameters: dict,
                 inputs: list[dict], source: str, sample: bool = True) -> None:
        self.run_dir, self.name, self.platform = run_dir, name, platform
        self.sample = sample
        self.code, self.parameters, self.inputs, self.source = code, parameters, inputs, source
        self.steps: list[dict] = []
        self._sampler: Sampler | None = None
        self._started = time.time()
        self._t0 = time.perf_counter()
        self._rapl = rapl_read()
        write_json(run_dir / "run_summary.json", {"status": "running", "schema_version": SCHEMA_VERSION,
                                                  "kind": PLAIN, "workload": name, "platform": platform})

    def watch(self, pid: int) -> None:
        """Start sampling ``pid`` and its descendants (the kernel, the command)."""
        if self._sampler is None and pid and self.sample:
            self._sampler = Sampler(pid=pid).start()
            self._sampler.sample_now()

    def step_started(self, step: int, kind: str, label: str) -> None:
        self.steps.append({"step": step, "kind": kind, "label": label, "start_unix": time.time(),
                           "end_unix": None, "duration_sec": None, "status": "running"})
        if self._sampler is not None:
            self._sampler.phase = f"{kind}_{step}"

    def step_ended(self, ok: bool) -> dict:
        last = self.steps[-1]
        last["end_unix"] = time.time()
        last["duration_sec"] = last["end_unix"] - last["start_unix"]
        last["status"] = "completed" if ok else "failed"
        if self._sampler is not None:
            self._sampler.sample_now()  # while the process still lives: a short step has a row too
            self._sampler.phase = "idle"
        return last

    def finish(self, status: str, error: str | None) -> dict:
        """Writes what the run left unwritten; returns its summary."""
        # Rows taken after the watched processes ended (the sampler's last) say nothing about them.
        rows = [r for r in (self._sampler.stop() if self._sampler is not None else []) if int(r["rss_bytes"]) > 0]
        gpu = self._sampler.gpu if self._sampler is not None else {"available": False,
                                                                   "reason": "the process never started"}
        for s in self.steps:
            if s["status"] == "running":  # the step the run stopped in
                s.update(end_unix=time.time(), status=status)
                s["duration_sec"] = s["end_unix"] - s["start_unix"]
        write_csv(self.run_dir / "steps.csv", STEP_COLUMNS, self.steps)
        summary, _ = read_json_object(self.run_dir / "run_summary.json")
        recorded_itself = bool(summary) and summary.get("kind") != PLAIN
        write_csv(self.run_dir / ("process_telemetry.csv" if recorded_itself else "telemetry.csv"),
                  TELEMETRY_COLUMNS, rows)
        if recorded_itself:
            summary = self._settle_recorded(summary, status, error)
        else:
            summary = self._plain_summary(rows, gpu, status, error)
            write_json(self.run_dir / "run_summary.json", summary)
            write_metadata(self.run_dir, workload=self.name, platform=self.platform, status=status,
                           config={"device": None}, started=self._started, parameters=self.parameters,
                           notebook=self.source, code=self.code, inputs=self.inputs)
        metrics_path = self.run_dir / "test_metrics.json"
        write_readme(self.run_dir, summary, read_json_object(metrics_path)[0] or {} if metrics_path.exists() else {})
        write_manifest(self.run_dir)
        return summary

    def _plain_summary(self, rows: list[dict], gpu: dict, status: str, error: str | None) -> dict:
        rss = [int(r["rss_bytes"]) for r in rows if int(r["rss_bytes"]) > 0]
        util, util_samples = mean_gpu_util(rows)
        summary = {
            "status": status, "schema_version": SCHEMA_VERSION, "kind": PLAIN, "workload": self.name,
            "platform": self.platform, "wall_sec": time.perf_counter() - self._t0,
            "steps": len(self.steps), "steps_sec": sum(s["duration_sec"] or 0.0 for s in self.steps),
            "peak_host_rss_bytes": max(rss) if rss else None, "mean_gpu_util_percent": util,
            "gpu_util_samples": util_samples, "gpu_telemetry": gpu,
            "energy": run_energy(rows, gpu, self._rapl, rapl_read()),
            "telemetry_samples": len({r["time_unix"] for r in rows}),
        }
        summary.update(tracked_epochs(self.run_dir))
        if error is not None:
            summary["error"] = error
        return summary

    def _settle_recorded(self, summary: dict, status: str, error: str | None) -> dict:
        """A run whose own recorder did not finish is marked with the runner's status and error."""
        if status == "completed" and summary.get("status") == "completed":
            if self.parameters:  # injected as a cell, so the kernel's recorder did not see them
                meta, _ = read_json_object(self.run_dir / "run_metadata.json")
                if meta is not None:
                    write_json(self.run_dir / "run_metadata.json", {**meta, "parameters": self.parameters})
            return summary
        plain = re.sub(r"\x1b\[[0-9;]*m", "", error or "").strip()
        summary.update(status=status if status != "completed" else "failed", schema_version=SCHEMA_VERSION,
                       workload=summary.get("workload") or self.name, platform=self.platform,
                       error=plain.splitlines()[-1] if plain else summary.get("error")
                       or "the notebook ended without RunRecorder.finish()")
        write_json(self.run_dir / "run_summary.json", summary)
        config_path = self.run_dir / "run_config.json"
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        write_metadata(self.run_dir, workload=summary["workload"], platform=self.platform, status=summary["status"],
                       config=config, started=self._started, parameters=self.parameters, notebook=self.source)
        return summary
