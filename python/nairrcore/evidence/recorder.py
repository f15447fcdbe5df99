"""One recorder per run: the training code reports into it, never ad hoc.

The recorder alone makes a complete run folder, however the notebook runs
(``nairrcore run``, plain ``jupyter nbconvert --execute``, papermill, cell
by cell): it marks the folder ``running`` when it starts, and ``finish()``
writes the summary, metadata, environment snapshot, a README of the folder
and the checksum manifest. A run that stops before ``finish()`` is marked
``failed`` (with the error, when the notebook raised one) as the kernel
exits; a run killed outright stays ``running``, and the validator and the
reports refuse it as not finished.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import os
import sys
import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from nairrcore._native import core as _core
from nairrcore.evidence.environment import git_state, machine, scheduler_job_id, snapshot
from nairrcore.evidence.run_readme import write_readme
from nairrcore.evidence.energy import rapl_read
from nairrcore.evidence.telemetry import (COLUMNS as TELEMETRY_COLUMNS, Sampler, mean_train_gpu_util, peak_gpu_mem,
                                         run_energy, train_gpu_util_samples)
from nairrcore.files import write_csv, write_json, write_manifest
from nairrcore.platforms import check_platform
from nairrcore.workload import headline

EPOCH_COLUMNS = ["epoch", "train_loss", "val_loss", "train_sec", "val_sec", "epoch_sec", "samples_per_sec",
                 "train_samples", "data_wait_sec", "val_accuracy", "nonfinite_losses"]
BENCHMARK_ROW_COLUMNS = ["platform", "workload", "run_id", "status", "epochs", "mean_epoch_sec", "training_sec",
                         "wall_sec", "samples_per_sec", "mean_gpu_util_percent", "peak_gpu_mem_bytes",
                         "metric", "metric_value"]
SCHEMA_VERSION = 2


def new_run_id() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def outputs_root(environ=os.environ, cwd: Path | None = None) -> Path:
    """Where run folders go: $NAIRRCORE_OUTPUTS, else the ``outputs/`` folder
    of the nearest folder above the working directory that has one (the
    repository's, also when a notebook runs with its own folder as working
    directory), else ./outputs."""
    if environ.get("NAIRRCORE_OUTPUTS"):
        return Path(environ["NAIRRCORE_OUTPUTS"])
    cwd = (cwd or Path.cwd()).resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "outputs" / "README.md").is_file():
            return folder / "outputs"
    return cwd / "outputs"


class RunRecorder:
    """Writes the run folder ``run_dir``; every write is atomic."""

    def __init__(self, run_dir: str | os.PathLike, workload: str, platform: str = "laptop") -> None:
        self.run_dir = Path(run_dir)
        self.workload = workload
        self.platform = check_platform(platform)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.epochs: list[dict] = []
        self.phases: dict[str, float] = {}
        self._config: dict = {}
        self._metrics: dict = {}
        self._started = time.time()
        self._t0 = time.perf_counter()
        self._first_step_sec: float | None = None
        self._finished = False
        self._error: str | None = None
        self._sampler = Sampler().start()
        self._rapl = rapl_read()
        write_json(self.run_dir / "run_summary.json", {"status": "running", "schema_version": SCHEMA_VERSION,
                                                       "workload": workload, "platform": platform})
        atexit.register(self._exit)
        self._watch_notebook()

    @classmethod
    def from_env(cls, workload: str) -> "RunRecorder":
        """Inside ``nairrcore run`` the run folder comes from NAIRRCORE_RUN_DIR;
        otherwise a new folder <outputs>/<platform>/<workload>/<run_id> is made
        (``outputs_root()``; platform from $NAIRRCORE_PLATFORM, default laptop)."""
        platform = os.environ.get("NAIRRCORE_PLATFORM", "laptop")
        run_dir = os.environ.get("NAIRRCORE_RUN_DIR") or outputs_root() / platform / workload / new_run_id()
        return cls(run_dir, workload, platform)

    def _watch_notebook(self) -> None:
        """In IPython, a cell that raises marks the run failed with its error."""
        ip = sys.modules.get("IPython")
        shell = ip.get_ipython() if ip is not None and hasattr(ip, "get_ipython") else None
        if shell is None:
            return

        def after_cell(result) -> None:
            err = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
            if err is not None and not self._finished:
                self._error = f"{type(err).__name__}: {err}"

        shell.events.register("post_run_cell", after_cell)

    @contextlib.contextmanager
    def phase(self, name: str):
        """Times a phase (e.g. "data_prep", "train", "test") and marks telemetry with it."""
        self._sampler.phase = name
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - t0
            self._sampler.phase = "idle"

    def mark(self, phase: str) -> None:
        """Phase marker from a training loop: "train_epoch_N", "validation_epoch_N", "between_epochs".
        A sample is taken at each change, so a phase's energy is the counters'
        difference between its ends, however short it was."""
        self._sampler.phase = phase
        self._sampler.sample_now()

    def step(self) -> None:
        """Called after a training step; only the first one is timed (time to first batch)."""
        if self._first_step_sec is None:
            self._first_step_sec = time.perf_counter() - self._t0

    def config(self, **values) -> None:
        self._config.update(values)
        write_json(self.run_dir / "run_config.json", {"workload": self.workload, "platform": self.platform,
                                                      "schema_version": SCHEMA_VERSION,
                                                      "cpu_matmul": _core.cpu_matmul(),
                                                      "cpu_block_cache": _core.cpu_block_cache(), **self._config})

    def trainer(self, trainer, data) -> None:
        """The settings of ``config``, what the core received, device, precision and data: run_config.json."""
        self.config(config=trainer.config.as_dict(), core=trainer.core_settings(), device=str(trainer.device),
                    precision=trainer.precision, tf32=getattr(trainer, "tf32", False),
                    parameters=trainer.num_parameters, dataset=data.fingerprint, build=dict(_core.build_info()))

    def epoch(self, stats: dict) -> None:
        self.epochs.append(dict(stats))
        write_csv(self.run_dir / "epoch_timing.csv", EPOCH_COLUMNS, self.epochs)

    def restore_epochs(self, epochs: list[dict]) -> None:
        """The epochs recorded before a checkpoint this run resumed from."""
        self.epochs = [dict(e) for e in epochs]
        write_csv(self.run_dir / "epoch_timing.csv", EPOCH_COLUMNS, self.epochs)

    def metrics(self, metrics: dict) -> None:
        self._metrics = metrics
        write_json(self.run_dir / "test_metrics.json", metrics)

    def _exit(self) -> None:
        if not self._finished:
            self.finish(status="failed", error=self._error or "the run stopped before RunRecorder.finish()")

    def finish(self, status: str = "completed", error: str | None = None) -> dict:
        """Summary, metadata, environment, README and manifest; returns the summary."""
        self._finished = True
        atexit.unregister(self._exit)
        telemetry = self._sampler.stop()
        write_csv(self.run_dir / "telemetry.csv", TELEMETRY_COLUMNS, telemetry)
        train_sec = sum(e["train_sec"] for e in self.epochs)
        samples = sum(e.get("train_samples") or 0 for e in self.epochs)
        gpu_mem = peak_gpu_mem(telemetry)
        if torch.cuda.is_initialized():
            gpu_mem = max(gpu_mem or 0, torch.cuda.max_memory_reserved())
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
            "data_wait_sec": sum(e.get("data_wait_sec") or 0.0 for e in self.epochs),
            "epochs": len(self.epochs),
            "mean_train_sec_per_epoch": train_sec / len(self.epochs) if self.epochs else None,
            "train_samples_per_sec": samples / train_sec if train_sec else None,
            "peak_host_rss_bytes": _core.host_stats()["peak_rss_bytes"],
            "peak_gpu_mem_bytes": gpu_mem,
            "mean_gpu_util_train_percent": mean_train_gpu_util(telemetry),
            "gpu_util_train_samples": len(train_gpu_util_samples(telemetry)),
            "gpu_telemetry": self._sampler.gpu,
            "energy": run_energy(telemetry, self._sampler.gpu, self._rapl, rapl_read()),
            "phases_sec": self.phases,
        }
        if error is not None:
            summary["error"] = error
        write_json(self.run_dir / "run_summary.json", summary)
        metric = headline(self._metrics)
        write_csv(self.run_dir / "benchmark_row.csv", BENCHMARK_ROW_COLUMNS, [{
            "platform": self.platform, "workload": self.workload, "run_id": self.run_dir.name, "status": status,
            "epochs": len(self.epochs), "mean_epoch_sec": summary["mean_train_sec_per_epoch"],
            "training_sec": train_sec, "wall_sec": summary["wall_sec"],
            "samples_per_sec": summary["train_samples_per_sec"],
            "mean_gpu_util_percent": summary["mean_gpu_util_train_percent"], "peak_gpu_mem_bytes": gpu_mem,
            "metric": metric[0] if metric else "", "metric_value": metric[1] if metric else ""}])
        self.write_metadata(status)
        write_readme(self.run_dir, summary, self._metrics)
        write_manifest(self.run_dir)
        return summary

    def write_metadata(self, status: str) -> None:
        settings = self._config.get("config") or {}
        parameters = {k[len("NAIRRCORE_"):].lower(): v for k, v in os.environ.items()
                      if k.startswith("NAIRRCORE_") and k[len("NAIRRCORE_"):].lower() in settings}
        write_metadata(self.run_dir, workload=self.workload, platform=self.platform, status=status,
                       config=self._config, started=self._started, parameters=parameters,
                       notebook=os.environ.get("NAIRRCORE_NOTEBOOK"))


def write_metadata(run_dir: Path, *, workload: str, platform: str, status: str, config: dict, started: float,
                   parameters: dict, notebook: str | None = None, code: dict | None = None,
                   inputs: list[dict] | None = None) -> dict:
    """run_metadata.json and env/: what ran, where, with which versions and
    settings (``config``: the run_config.json contents; ``code`` and
    ``inputs``: a plain run's fingerprint)."""
    facts = snapshot(run_dir / "env")
    cuda = torch.cuda.is_available()
    settings = config.get("config") or {}
    meta = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_dir.name,
        "workload": workload,
        "platform": platform,
        "notebook": notebook,
        "started_unix": started,
        "finished_unix": time.time(),
        "status": status,
        "host": facts["host"],
        "scheduler_job_id": scheduler_job_id(),
        "git": git_state(Path(notebook).parent if notebook else Path.cwd()),
        "versions": {
            "nairrcore": _version(), "torch": torch.__version__, "python": sys.version.split()[0],
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if cuda else None,
            "nccl": ".".join(map(str, torch.cuda.nccl.version())) if cuda else None,
            "core_build": dict(_core.build_info()),
        },
        "machine": machine(),
        "gpu": {"count": torch.cuda.device_count() if cuda else 0,
                "name": torch.cuda.get_device_name(0) if cuda else None},
        "device": config.get("device"),
        "precision": config.get("precision"),
        "parameters": parameters,
        "hyperparameters": settings or None,
        "seed": settings.get("seed"),
        "dataset": config.get("dataset"),
        "config": config,
    }
    if code is not None:
        meta.update(code={**code, "path": notebook}, inputs=inputs or None)
    write_json(run_dir / "run_metadata.json", meta)
    return meta


def _version() -> str:
    try:
        return version("nairrcore")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"
