"""Headless notebook execution (nbclient) into a run folder with its evidence."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import torch

import nairrcore
from nairrcore.errors import ConfigError
from nairrcore.evidence import check_platform
from nairrcore.evidence.environment import git_state, snapshot
from nairrcore.evidence.files import write_json, write_manifest, write_text
from nairrcore.evidence.recorder import SCHEMA_VERSION, new_run_id


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


def _parse_params(params: dict[str, str] | list[str]) -> dict[str, str]:
    if isinstance(params, dict):
        return {k: str(v) for k, v in params.items()}
    out = {}
    for item in params:
        if "=" not in item:
            raise ConfigError(f"--param: expected KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v
    return out


def run_notebook(notebook: str | os.PathLike, platform: str = "laptop", params=(), out: str | os.PathLike = "outputs",
                 *, require_gpu: bool = False, timeout: int = 24 * 3600, quiet: bool = False,
                 profile_steps: int = 0) -> Path:
    """Execute ``notebook`` headless; returns the run folder
    ``out/<platform>/<workload>/<run_id>``. Parameters reach the notebook as
    NAIRRCORE_<KEY> environment variables read by its parameters cell."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    check_platform(platform)
    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise ConfigError(f"notebook: {notebook} does not exist")
    params = _parse_params(params)
    if require_gpu or params.get("device", "").startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("a GPU was asked for but torch sees no CUDA device on this machine")
    workload = notebook.stem
    run_dir = Path(out) / platform / workload / new_run_id()
    run_dir.mkdir(parents=True)
    nb = nbformat.read(notebook, as_version=4)
    env = {"NAIRRCORE_RUN_DIR": str(run_dir.resolve()), "NAIRRCORE_PLATFORM": platform}
    env.update({"NAIRRCORE_" + k.upper(): v for k, v in params.items()})
    if profile_steps:
        env["NAIRRCORE_PROFILE_STEPS"] = str(profile_steps)
    executed = run_dir / f"{workload}.ipynb"
    started = time.time()
    error = None
    old_env = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        progress = None
        if not quiet:
            from tqdm.auto import tqdm

            progress = tqdm(total=len(nb.cells), unit="cell", desc=workload)

        def after_cell(cell, cell_index, execute_reply):
            write_text(executed, nbformat.writes(nb))  # saved after every cell
            if progress is not None:
                progress.update(1)

        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(notebook.parent)}},
                                on_cell_executed=after_cell)
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
    write_text(run_dir / "notebook_output.txt", _stream_text(nb))
    _write_metadata(run_dir, notebook, workload, platform, params, started, error)
    if error is not None:
        summary_path = run_dir / "run_summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        plain = re.sub(r"\x1b\[[0-9;]*m", "", error).strip()
        summary.update(status="interrupted" if _preempted(error) else "failed", schema_version=SCHEMA_VERSION,
                       error=plain.splitlines()[-1] if plain else "cell failed")
        write_json(summary_path, summary)
    write_manifest(run_dir)
    if error is not None:
        raise NotebookFailed(run_dir, error, preempted=_preempted(error))
    return run_dir


def _preempted(error: str | None) -> bool:
    return bool(error) and "Preempted" in error


def _stream_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif output.get("output_type") == "error":
                parts.append("\n".join(output.get("traceback", [])))
    return "".join(parts)


def _write_metadata(run_dir: Path, notebook: Path, workload: str, platform: str, params: dict,
                    started: float, error: str | None) -> None:
    facts = snapshot(run_dir / "env")
    config_path = run_dir / "run_config.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    info = nairrcore.build_info()
    cuda = torch.cuda.is_available()
    meta = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_dir.name,
        "workload": workload,
        "platform": platform,
        "notebook": str(notebook),
        "started_unix": started,
        "finished_unix": time.time(),
        "status": ("interrupted" if _preempted(error) else "failed") if error else "completed",
        "host": facts["host"],
        "scheduler_job_id": facts["scheduler_job_id"],
        "git": git_state(notebook.parent),
        "versions": {
            "nairrcore": nairrcore.__version__, "torch": torch.__version__, "python": sys.version.split()[0],
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if cuda else None,
            "nccl": ".".join(map(str, torch.cuda.nccl.version())) if cuda else None,
            "core_build": info,
        },
        "gpu": {"count": torch.cuda.device_count() if cuda else 0,
                "name": torch.cuda.get_device_name(0) if cuda else None},
        "parameters": params,
        "hyperparameters": config.get("config"),
        "seed": (config.get("config") or {}).get("seed"),
        "dataset": config.get("dataset"),
        "device": config.get("device"),
        "precision": config.get("precision"),
        "config": config,
    }
    write_json(run_dir / "run_metadata.json", meta)
