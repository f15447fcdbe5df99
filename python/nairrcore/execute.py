"""Headless notebook execution (nbclient) into a run folder.

The notebook's own RunRecorder writes the evidence; this adds the executed
notebook and its output text, marks the run failed (with the cell's error)
or interrupted when it did not complete, and writes the manifest again.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import signal
import time
from pathlib import Path

import torch

from nairrcore.errors import ConfigError
from nairrcore.evidence.recorder import SCHEMA_VERSION, new_run_id, outputs_root, write_metadata
from nairrcore.evidence.run_readme import write_readme
from nairrcore.files import write_json, write_manifest, write_text
from nairrcore.platforms import check_platform
from nairrcore.progress import progress_bar
from nairrcore.workload import WORKLOADS


class NotebookFailed(RuntimeError):
    """A cell raised; the partial evidence is kept and marked failed."""

    def __init__(self, run_dir: Path, message: str, preempted: bool = False) -> None:
        super().__init__(message)
        self.run_dir = run_dir
        self.preempted = preempted


def _forward_preemption(client):
    """A hook for nbclient's on_notebook_start: SIGTERM/SIGUSR1 reach this
    process (the scheduler's job step) but the kernel runs in its own session,
    so pass them on, replacing nbclient's own SIGTERM handler (which would shut
    the kernel down): the training loop then checkpoints and stops with Preempted."""
    def forward(signum: int) -> None:
        km = getattr(client, "km", None)
        if km is not None and km.has_kernel:
            pending = km.signal_kernel(signum)
            if inspect.isawaitable(pending):
                asyncio.ensure_future(pending)

    def install(**_) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            try:
                loop.add_signal_handler(sig, forward, sig)
            except (RuntimeError, NotImplementedError):  # not the main thread
                pass

    return install


def parse_params(params: dict[str, str] | list[str]) -> dict[str, str]:
    """KEY=VALUE items (or a dict) as {key: value}; ConfigError on a malformed item."""
    if isinstance(params, dict):
        return {k: str(v) for k, v in params.items()}
    out = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param: expected KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def run_notebook(notebook: str | os.PathLike, platform: str = "laptop", params=(), out: str | os.PathLike | None = None,
                 *, require_gpu: bool = False, timeout: int = 24 * 3600, quiet: bool = False,
                 profile_steps: int = 0) -> Path:
    """Execute ``notebook`` headless; returns the run folder
    ``<out>/<platform>/<workload>/<run_id>`` (``out``: default ``outputs_root()``).
    Parameters reach the notebook as NAIRRCORE_<KEY> environment variables
    read by its parameters cell; for a registered workload an unknown name is
    refused before anything runs."""
    import nbformat  # the notebook stack is an optional dependency
    from nbclient import NotebookClient  # (optional, as above)
    from nbclient.exceptions import CellExecutionError  # (optional, as above)

    check_platform(platform)
    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise ConfigError(f"notebook: {notebook} does not exist")
    params = parse_params(params)
    workload = notebook.stem
    if workload in WORKLOADS:
        WORKLOADS[workload].settings.check_names(params, "--param: ")
    if require_gpu or params.get("device", "").startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("a GPU was asked for but torch sees no CUDA device on this machine")
    run_dir = Path(out or outputs_root()) / platform / workload / new_run_id()
    run_dir.mkdir(parents=True)
    nb = nbformat.read(notebook, as_version=4)
    env = {"NAIRRCORE_RUN_DIR": str(run_dir.resolve()), "NAIRRCORE_PLATFORM": platform,
           "NAIRRCORE_NOTEBOOK": str(notebook)}
    env.update({"NAIRRCORE_" + k.upper(): v for k, v in params.items()})
    if profile_steps:
        env["NAIRRCORE_PROFILE_STEPS"] = str(profile_steps)
    executed = run_dir / f"{workload}.ipynb"
    started = time.time()
    error = None
    old_env = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        progress = None if quiet else progress_bar(total=len(nb.cells), unit="cell", desc=workload)

        def after_cell(cell, cell_index, execute_reply):
            write_text(executed, nbformat.writes(nb))  # saved after every cell
            if progress is not None:
                progress.update(1)

        # The kernel listens on localhost only; its warning about unencrypted TCP is not the user's concern.
        client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                                resources={"metadata": {"path": str(notebook.parent)}}, on_cell_executed=after_cell,
                                extra_arguments=["--IPKernelApp.log_level=ERROR"])
        client.on_notebook_start = _forward_preemption(client)
        try:
            client.execute()
        except CellExecutionError as exc:
            error = str(exc)
        finally:
            if progress is not None:
                progress.close()
    finally:
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    write_text(executed, nbformat.writes(nb))
    write_text(run_dir / "notebook_output.txt", stream_text(nb))
    _settle_status(run_dir, workload, platform, params, started, str(notebook), error)
    if error is not None:
        raise NotebookFailed(run_dir, error, preempted=_preempted(error))
    return run_dir


def _settle_status(run_dir: Path, workload: str, platform: str, params: dict, started: float, notebook: str,
                   error: str | None) -> None:
    """Marks a run that did not complete (with the cell's error), writes the
    metadata the notebook did not get to, then the README and manifest again."""
    summary_path = run_dir / "run_summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    if error is not None or summary.get("status") != "completed":
        plain = re.sub(r"\x1b\[[0-9;]*m", "", error or "").strip()
        status = "interrupted" if _preempted(error) else "failed"
        summary.update(status=status, schema_version=SCHEMA_VERSION, workload=workload, platform=platform,
                       error=plain.splitlines()[-1] if plain else summary.get("error") or
                       "the notebook ended without RunRecorder.finish()")
        write_json(summary_path, summary)
        config_path = run_dir / "run_config.json"
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        write_metadata(run_dir, workload=workload, platform=platform, status=status, config=config,
                       started=started, parameters=params, notebook=notebook)
    metrics_path = run_dir / "test_metrics.json"
    write_readme(run_dir, summary, json.loads(metrics_path.read_text()) if metrics_path.exists() else {})
    write_manifest(run_dir)


def _preempted(error: str | None) -> bool:
    return bool(error) and "Preempted" in error


def _clean(text: str) -> str:
    """Progress bars redraw a line with carriage returns: keep what the last
    redraw left on each line."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.replace("\r\n", "\n").split("\n"))


def stream_text(nb) -> str:
    """What the notebook printed (streams and errors), as a terminal would show it."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(_clean(output.get("text", "")))
            elif output.get("output_type") == "error":
                parts.append(re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(output.get("traceback", []))) + "\n")
    return "".join(parts)
