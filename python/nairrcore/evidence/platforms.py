"""Platforms a run can be recorded for (see docs/ARCHITECTURE.md)."""

from __future__ import annotations

from nairrcore.errors import ConfigError

# name -> (kind, scheduler, accelerator)
PLATFORMS: dict[str, tuple[str, str, str]] = {
    "laptop": ("workstation", "shell", "any"),
    "jetstream2": ("cloud VM", "shell", "none"),
    "aws-g4dn": ("cloud VM", "shell", "T4"),
    "bridges2": ("HPC", "slurm", "V100"),
    "delta": ("HPC", "slurm", "A100"),
    "anvil": ("HPC", "slurm", "H100"),
    "alvis": ("HPC", "slurm", "A40/A100"),
    "chtc": ("high-throughput", "htcondor", "any"),
}


def check_platform(name: str) -> str:
    if name not in PLATFORMS:
        raise ConfigError(f"platform: unknown platform {name!r}, expected one of {sorted(PLATFORMS)}")
    return name
