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

SCHEDULER_VARS = ("SLURM_", "_CONDOR_", "CONDOR_", "PBS_", "LSB_")


def scheduler_job_id() -> str | None:
    for var in ("SLURM_JOB_ID", "CONDOR_JOB_ID", "_CONDOR_JOB_AD", "PBS_JOBID", "LSB_JOBID"):
        if os.environ.get(var):
            return os.environ[var]
    return None


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


# x86 (vendor, family) -> [(first model, last model, name)]: a VM often hides the
# model name ("AMD EPYC"), while family and model still tell the generations apart,
# and they differ several-fold in fp32 matrix throughput.
_X86_GENERATIONS = {
    ("AuthenticAMD", 23): [(0x00, 0x2F, "Zen/Zen+"), (0x30, 0xFF, "Zen 2")],
    ("AuthenticAMD", 25): [(0x00, 0x0F, "Zen 3"), (0x10, 0x1F, "Zen 4"), (0x20, 0x5F, "Zen 3"),
                           (0x60, 0x7F, "Zen 4"), (0xA0, 0xAF, "Zen 4")],
    ("AuthenticAMD", 26): [(0x00, 0xFF, "Zen 5")],
    ("GenuineIntel", 6): [(0x3F, 0x3F, "Haswell"), (0x4F, 0x4F, "Broadwell"), (0x55, 0x55, "Skylake/Cascade Lake"),
                          (0x6A, 0x6C, "Ice Lake"), (0x8F, 0x8F, "Sapphire Rapids"), (0xAD, 0xAE, "Granite Rapids"),
                          (0xAF, 0xAF, "Sierra Forest"), (0xCF, 0xCF, "Emerald Rapids")],
}


def cpu_id(cpuinfo: str | None = None) -> dict:
    """Vendor, family, model, stepping, clock (MHz as reported) and, where known,
    the microarchitecture of the first CPU in ``cpuinfo`` (default /proc/cpuinfo)."""
    if cpuinfo is None:
        cpuinfo = _cpuinfo()
    fields = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()

    def number(key):
        try:
            return int(fields[key])
        except (KeyError, ValueError):
            return None

    vendor, family, model = fields.get("vendor_id"), number("cpu family"), number("model")
    generation = next((name for lo, hi, name in _X86_GENERATIONS.get((vendor, family), [])
                       if model is not None and lo <= model <= hi), None)
    mhz = fields.get("cpu MHz")
    return {"vendor": vendor, "family": family, "model": model, "stepping": number("stepping"),
            "mhz": round(float(mhz)) if mhz and mhz.replace(".", "", 1).isdigit() else None,
            "microarchitecture": generation}


# Instruction-set extensions that decide which matrix kernels a library runs.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "asimd", "sve")


def _cpu_isa(cpuinfo: str) -> list[str]:
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):
            flags = set(line.split(":", 1)[1].split())
            return [f for f in ISA_FLAGS if f in flags]
    return []


def _cpu() -> dict:
    """The CPU facts every benchmark JSON and run folder carries, from one read of /proc/cpuinfo."""
    cpuinfo = _cpuinfo()
    return {
        "cpu_model": _cpu_model(cpuinfo),
        "cpu_isa": _cpu_isa(cpuinfo),
        "cpu_id": cpu_id(cpuinfo),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def machine() -> dict:
    """What a measurement was taken on: CPU model and ISA, cores, memory, GPU,
    library versions. Every benchmark JSON and run folder carries it."""
    cuda = torch.cuda.is_available()
    return {
        "host": socket.gethostname(),
        "os": platform.platform(),
        **_cpu(),
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
        **_cpu(),
        "mem_total_bytes": _mem_total_bytes(),
        "scheduler_job_id": scheduler_job_id(),
        "scheduler_env": {k: v for k, v in os.environ.items() if k.startswith(SCHEDULER_VARS)},
    }
    write_json(env_dir / "system.json", facts)
    return facts
