"""Snapshot of the environment a run executed in (the env/ folder and metadata)."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import shutil
import socket
import subprocess
from pathlib import Path

import torch

from nairrcore.files import write_json, write_text
from nairrcore.hardware import cpu_facts

SCHEDULER_VARS = ("SLURM_", "_CONDOR_", "CONDOR_", "PBS_", "LSB_")


def scheduler_job_id() -> str | None:
    for var in ("SLURM_JOB_ID", "CONDOR_JOB_ID", "_CONDOR_JOB_AD", "PBS_JOBID", "LSB_JOBID"):
        if os.environ.get(var):
            return os.environ[var]
    return None


def machine() -> dict:
    """What a measurement was taken on: CPU model and ISA, cores, memory, GPU,
    library versions. Every benchmark JSON and run folder carries it."""
    cuda = torch.cuda.is_available()
    return {
        "host": socket.gethostname(),
        "os": platform.platform(),
        **cpu_facts(),
        "torch_threads": torch.get_num_threads(),
        "mem_total_bytes": _mem_total_bytes(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "gpu_count": torch.cuda.device_count() if cuda else 0,
        "gpu_capability": ".".join(map(str, torch.cuda.get_device_capability(0))) if cuda else None,
    }


def _mem_total_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def git_state(repo: Path) -> dict:
    source = os.environ.get("NAIRRCORE_SOURCE_COMMIT", "").strip()
    if source:  # a copy of the sources whose .git (if any) is not theirs: the GPU plan's machine
        return {"commit": source, "dirty": None, "from": "NAIRRCORE_SOURCE_COMMIT"}

    def run(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=20)
    try:
        commit = run("rev-parse", "HEAD")
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = run("status", "--porcelain", "--untracked-files=no").stdout.strip() != ""
        return {"commit": commit.stdout.strip(), "dirty": dirty}
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}


def snapshot(env_dir: Path) -> dict:
    """Writes env/pip_freeze.txt, env/system.json, env/nvidia_smi.txt; returns the facts."""
    env_dir.mkdir(parents=True, exist_ok=True)
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in md.distributions() if d.metadata["Name"])
    write_text(env_dir / "pip_freeze.txt", "\n".join(dists) + "\n")
    if shutil.which("conda"):
        out = subprocess.run(["conda", "env", "export"], capture_output=True, text=True)
        write_text(env_dir / "conda_env.yml", out.stdout or out.stderr)
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "-q"], capture_output=True, text=True)
        write_text(env_dir / "nvidia_smi.txt", out.stdout or out.stderr)
    else:
        write_text(env_dir / "nvidia_smi.txt", "absent: nvidia-smi not found on PATH\n")
    facts = {
        "host": socket.gethostname(),
        "os": platform.platform(),
        "python": platform.python_version(),
        **cpu_facts(),
        "mem_total_bytes": _mem_total_bytes(),
        "scheduler_job_id": scheduler_job_id(),
        "scheduler_env": {k: v for k, v in os.environ.items() if k.startswith(SCHEDULER_VARS)},
    }
    write_json(env_dir / "system.json", facts)
    return facts
