"""Energy of a run: the GPUs' (NVML's counter, in the telemetry rows) and
the CPU package's and DRAM's, from the RAPL counters Linux exposes under
/sys/class/powercap, read at the start and the end of the run. Each is the
counter's difference over the window, with the counter's wraparound taken
into account; where a counter cannot be read (a VM, no permission, not an
Intel or AMD host) the field says why, never a zero."""

from __future__ import annotations

from pathlib import Path

POWERCAP = Path("/sys/class/powercap")
J_PER_KWH = 3.6e6


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


def rapl_read(root: Path = POWERCAP) -> tuple[dict[str, dict], str | None]:
    """({zone path: {"name", "uj", "max_uj"}}, None), or ({}, why none can be read)."""
    if not root.is_dir():
        return {}, f"no {root} (a virtual machine, or a kernel without powercap)"
    zones = sorted(p for p in root.glob("*rapl:*") if (p / "energy_uj").exists())
    if not zones:
        return {}, f"no RAPL zone under {root} (not an Intel or AMD host, or RAPL not exposed)"
    out = {}
    for zone in zones:
        try:
            out[zone.name] = {"name": (zone / "name").read_text().strip(), "uj": _read_int(zone / "energy_uj"),
                              "max_uj": _read_int(zone / "max_energy_range_uj")}
        except PermissionError:
            return {}, f"{zone / 'energy_uj'}: permission denied (root-only since Linux 5.10)"
        except (OSError, ValueError) as exc:
            return {}, f"{zone / 'energy_uj'}: unreadable ({exc})"
    return out, None


def rapl_energy(start: tuple[dict, str | None], end: tuple[dict, str | None]) -> dict:
    """CPU package and DRAM joules between two ``rapl_read`` results (one
    wraparound of a counter allowed), or the reason there are none."""
    (a, why_a), (b, why_b) = start, end
    if why_a or why_b:
        return {"cpu_j": None, "dram_j": None, "cpu_reason": why_a or why_b}
    sums = {"package": 0.0, "dram": 0.0}
    seen = set()
    for zone, first in a.items():
        last = b.get(zone)
        if last is None:
            continue
        delta = last["uj"] - first["uj"]
        if delta < 0:  # the counter wrapped (at max_energy_range_uj)
            delta += first["max_uj"]
        kind = "dram" if first["name"] == "dram" else "package" if first["name"].startswith("package") else None
        if kind is not None:
            sums[kind] += delta / 1e6
            seen.add(kind)
    if "package" not in seen:
        return {"cpu_j": None, "dram_j": None, "cpu_reason": "no package zone among the RAPL counters"}
    return {"cpu_j": sums["package"], "dram_j": sums["dram"] if "dram" in seen else None,
            "cpu_source": "RAPL energy counters (/sys/class/powercap), difference over the run"
                          + ("" if "dram" in seen else "; no DRAM zone")}


def total_kwh(energy: dict) -> tuple[float | None, str]:
    """(kWh of every counter that was read, what it covers); None where none was."""
    parts = [(name, energy.get(key)) for name, key in (("GPU", "gpu_j"), ("CPU package", "cpu_j"),
                                                      ("DRAM", "dram_j"))]
    read = [(name, j) for name, j in parts if isinstance(j, (int, float))]
    if not read:
        return None, "no energy counter readable"
    return sum(j for _, j in read) / J_PER_KWH, " + ".join(name for name, _ in read)
