"""Three lines of tracking for code of your own, without the Workload
interface: time each epoch and count its samples, and name the metric that
judges the run and its direction::

    from nairrcore import track
    with track.epoch(samples=len(train_set)):
        ...                                            # one epoch of your loop
    track.metric("val_loss", v, lower_is_better=True)  # the first one with a direction is the headline

They write ``epoch_timing.csv`` and ``test_metrics.json`` as the built-in
workloads do, so ``report compare``, ``plan`` and ``jobs summary`` rank and
plot the run alike. Under ``nairrcore run`` they write into that run's
folder (the runner writes the rest); used alone, the first call opens a
plain run folder of its own (its code is the script or notebook), watched
from within and finished when the process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import math
import os
import sys
import time
from pathlib import Path

from nairrcore.errors import ConfigError
from nairrcore.evidence.code import command_code, notebook_code
from nairrcore.evidence.process import ProcessWatch
from nairrcore.evidence.recorder import EPOCH_COLUMNS, new_run_id, outputs_root
from nairrcore.files import write_json
from nairrcore.platforms import check_platform

_current: "Tracker | None" = None


class Tracker:
    """Appends one epoch_timing.csv row per epoch (a call costs microseconds,
    however many epochs came before) and rewrites test_metrics.json per metric."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.epochs = 0
        self.metrics: dict = {}
        self._csv = None

    def record_epoch(self, seconds: float, samples: int, *, train_loss: float | None = None,
                     val_loss: float | None = None, val_sec: float = 0.0, val_accuracy: float | None = None) -> dict:
        """One epoch that trained ``samples`` samples in ``seconds`` (validation, if timed apart, in ``val_sec``)."""
        if not (isinstance(samples, int) and not isinstance(samples, bool) and samples > 0):
            raise ConfigError(f"track.epoch: samples must be a positive whole number, got {samples!r}")
        if not (seconds > 0 and math.isfinite(seconds)):
            raise ConfigError(f"track.epoch: seconds must be positive, got {seconds!r}")
        row = {"epoch": self.epochs, "train_loss": train_loss, "val_loss": val_loss, "train_sec": seconds,
               "val_sec": val_sec, "epoch_sec": seconds + val_sec, "samples_per_sec": samples / seconds,
               "train_samples": samples, "data_wait_sec": None, "val_accuracy": val_accuracy,
               "nonfinite_losses": None}
        self._append(row)
        self.epochs += 1
        return row

    def _append(self, row: dict) -> None:
        if self._csv is None:
            self._csv = open(self.run_dir / "epoch_timing.csv", "w", encoding="utf-8", newline="")
            self._csv.write(",".join(EPOCH_COLUMNS) + "\n")
        self._csv.write(",".join("" if row[k] is None else repr(row[k]) if isinstance(row[k], float) else str(row[k])
                                 for k in EPOCH_COLUMNS) + "\n")
        self._csv.flush()

    def metric(self, name: str, value: float, lower_is_better: bool | None = None) -> None:
        """A test or validation number; the first with a direction becomes the run's headline."""
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"track.metric: {name!r} must be a number, got {value!r}")
        self.metrics[name] = float(value)
        if lower_is_better is not None and "headline" not in self.metrics:
            self.metrics["headline"] = {"name": name, "value": float(value), "lower_is_better": bool(lower_is_better)}
        elif (self.metrics.get("headline") or {}).get("name") == name:
            self.metrics["headline"]["value"] = float(value)
        write_json(self.run_dir / "test_metrics.json", self.metrics)

    def close(self) -> None:
        if self._csv is not None:
            self._csv.close()
            self._csv = None


def _own_code() -> tuple[str, dict]:
    """(the run's name, its code) for a process tracking alone: the script it
    runs, or the notebook Jupyter says it runs (JPY_SESSION_NAME)."""
    notebook = os.environ.get("JPY_SESSION_NAME")
    if notebook and notebook.endswith(".ipynb") and Path(notebook).is_file():
        import nbformat  # the notebook stack is an optional dependency

        return Path(notebook).name, notebook_code(nbformat.read(notebook, as_version=4))
    script = sys.argv[0] if sys.argv and sys.argv[0].endswith(".py") else ""
    if not script:
        return "tracked", {"kind": "command", "sha256": hashlib.sha256(b"").hexdigest(), "argv": [], "files": []}
    return Path(script).name, command_code(["python", script, *sys.argv[1:]], Path.cwd())


def _alone() -> Tracker:
    """A plain run folder for this process, watched by itself, finished at exit
    (failed with the error when an exception ended it)."""
    name, code = _own_code()
    platform = check_platform(os.environ.get("NAIRRCORE_PLATFORM", "laptop"))
    run_dir = outputs_root() / platform / name / new_run_id()
    run_dir.mkdir(parents=True)
    watch = ProcessWatch(run_dir, name, platform, code=code, parameters={}, inputs=[], source=name)
    watch.watch(os.getpid())
    watch.step_started(0, "command", name)
    errors: list[str] = []
    previous = sys.excepthook

    def excepthook(kind, value, tb):
        errors.append(f"{kind.__name__}: {value}")
        previous(kind, value, tb)

    sys.excepthook = excepthook
    _on_notebook_error(errors)
    tracker = Tracker(run_dir)
    atexit.register(_finish_alone, tracker, watch, errors)
    return tracker


def _on_notebook_error(errors: list[str]) -> None:
    """In IPython, a cell that raises is the run's error."""
    ip = sys.modules.get("IPython")
    shell = ip.get_ipython() if ip is not None and hasattr(ip, "get_ipython") else None
    if shell is not None:
        shell.events.register("post_run_cell", lambda result: errors.append(
            f"{type(e).__name__}: {e}") if (e := result.error_in_exec or result.error_before_exec) else None)


def tracker() -> Tracker:
    """The process's tracker: in ``nairrcore run``'s folder, else in a run folder of its own."""
    global _current
    if _current is None:
        run_dir = os.environ.get("NAIRRCORE_RUN_DIR")
        _current = Tracker(Path(run_dir)) if run_dir else _alone()
    return _current


def _finish_alone(t: Tracker, watch: ProcessWatch, errors: list[str]) -> None:
    t.close()
    watch.step_ended(not errors)
    watch.finish("failed" if errors else "completed", errors[-1] if errors else None)


@contextlib.contextmanager
def epoch(samples: int, **values):
    """Times the block as one training epoch of ``samples`` samples."""
    t0 = time.perf_counter()
    yield
    tracker().record_epoch(time.perf_counter() - t0, samples, **values)


def record_epoch(seconds: float, samples: int, **values) -> dict:
    """An epoch timed by your own code."""
    return tracker().record_epoch(seconds, samples, **values)


def metric(name: str, value: float, lower_is_better: bool | None = None) -> None:
    tracker().metric(name, value, lower_is_better)
