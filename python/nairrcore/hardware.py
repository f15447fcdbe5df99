"""What CPU this is: model name, the instruction-set extensions that decide
which matrix kernels a library runs, and vendor, family, model and the
microarchitecture they identify (a virtual machine often hides the model
name). Run folders and benchmarks record it; the CPU matrix library's
choice is cached under it."""

from __future__ import annotations

import os
import platform
from pathlib import Path


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


def cpu_facts() -> dict:
    """The CPU facts every benchmark JSON and run folder carries, from one read of /proc/cpuinfo."""
    cpuinfo = _cpuinfo()
    return {
        "cpu_model": _cpu_model(cpuinfo),
        "cpu_isa": _cpu_isa(cpuinfo),
        "cpu_id": cpu_id(cpuinfo),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }
