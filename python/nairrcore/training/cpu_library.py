"""Which library multiplies nairrcore's fp32 CPU matrices, chosen per
processor by measurement.

oneDNN and torch's BLAS rank differently by processor (on an Intel Xeon the
BLAS measured faster, on an AMD Zen 4 oneDNN), so neither is right everywhere.
Before a CPU fit, nairrcore times both on the products one of the model's
layers makes (forward, and the two of its backward pass), alternating, and
keeps the faster. The result is cached per processor, core count, torch
version and layer shape, so each is measured once. ``RunOptions.cpu_matmul``
(``NAIRRCORE_CPU_MATMUL``) or ``nairrcore.set_cpu_matmul`` override the
choice; every run records the library used and why.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from pathlib import Path

import torch

from nairrcore._native import core as _core
from nairrcore.data.fetch import cache_dir
from nairrcore.files import write_json
from nairrcore.hardware import cpu_facts
from nairrcore.settings import CPU_MATMUL_LIBRARIES

# Rows, inputs, outputs of the timed layer when the model names none: a 1024-wide
# layer on 1024 rows.
SHAPE = (1024, 1024, 1024)
ROUNDS = 5

_chosen: dict[tuple, dict] = {}  # this process's choices, by layer shape
_caller: dict | None = None  # set_cpu_matmul's choice: it stands for the process


def processor() -> dict:
    """What identifies this processor for the choice: the facts a run records
    (model, instruction sets, vendor, family, model number, microarchitecture,
    the cores this process may use) less the clock, which moves, plus torch's
    threads and version."""
    facts = cpu_facts()
    ident = {k: v for k, v in facts["cpu_id"].items() if k != "mhz"}
    return {"cpu_model": facts["cpu_model"], "cpu_isa": facts["cpu_isa"], "cpu_id": ident,
            "cores": facts["affinity_cpus"] or facts["cpu_count"], "threads": torch.get_num_threads(),
            "torch": torch.__version__}


def _key(cpu: dict, shape: tuple) -> str:
    return hashlib.sha256(json.dumps([cpu, list(shape)], sort_keys=True).encode()).hexdigest()[:16]


def cache_file() -> Path:
    return cache_dir().parent / "cpu-matmul.json"


def measure(shape: tuple[int, int, int] = SHAPE, rounds: int = ROUNDS) -> dict:
    """GFLOP/s of each library on the three products of a layer of ``shape``
    (rows, inputs, outputs), the median of ``rounds`` alternating rounds (a
    drifting clock or a busy neighbour hits both)."""
    rows, inputs, outputs = shape
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, inputs, generator=g)
    w = torch.randn(outputs, inputs, generator=g)
    dy = torch.randn(rows, outputs, generator=g)
    products = ((x, w.t()), (dy, w), (dy.t(), x))  # y = x W^T, dx = dy W, dW = dy^T x
    flops = 3 * 2 * rows * inputs * outputs
    before = _core.cpu_matmul()
    seconds: dict[str, list[float]] = {name: [] for name in CPU_MATMUL_LIBRARIES}
    try:
        for r in range(rounds + 1):
            for name in CPU_MATMUL_LIBRARIES:
                _core.set_cpu_matmul(name)
                t0 = time.perf_counter()
                for a, b in products:
                    _core.cpu_matmul_product(a, b)
                if r:  # the first round warms up (oneDNN compiles its kernels)
                    seconds[name].append(time.perf_counter() - t0)
    finally:
        _core.set_cpu_matmul(before)
    return {name: round(flops / statistics.median(s) / 1e9, 1) for name, s in seconds.items()}


def _cached(cpu: dict, shape: tuple) -> dict | None:
    try:
        entry = json.loads(cache_file().read_text()).get(_key(cpu, shape))
    except (OSError, ValueError, AttributeError):
        return None
    ok = (isinstance(entry, dict) and entry.get("library") in CPU_MATMUL_LIBRARIES
          and entry.get("processor") == cpu and entry.get("shape") == list(shape))
    return entry if ok else None


def _store(cpu: dict, shape: tuple, entry: dict) -> None:
    path = cache_file()
    try:
        table = json.loads(path.read_text())
        table = table if isinstance(table, dict) else {}
    except (OSError, ValueError):
        table = {}
    table[_key(cpu, shape)] = entry
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, table)
    except OSError:
        pass  # a read-only cache: measured again next time


def choose(library: str = "", shape: tuple[int, int, int] = SHAPE, *, use_cache: bool = True) -> dict:
    """The library for a layer of ``shape`` and why: {"library", "why", ...}.
    A ``library`` named (RunOptions.cpu_matmul) wins; a build without oneDNN
    has only the BLAS; otherwise the cached or fresh measurement decides."""
    if library:
        return {"library": library, "why": "set by RunOptions.cpu_matmul (NAIRRCORE_CPU_MATMUL)"}
    if not torch.backends.mkldnn.is_available():
        return {"library": "blas", "why": "this torch build has no oneDNN"}
    cpu, shape = processor(), tuple(int(n) for n in shape)
    entry = _cached(cpu, shape) if use_cache else None
    if entry is None:
        gflops = measure(shape)
        entry = {"library": max(gflops, key=gflops.get), "gflops": gflops, "processor": cpu,
                 "shape": list(shape), "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        _store(cpu, shape, entry)
        why = "measured on this processor"
    else:
        why = f"measured on this processor ({entry.get('measured', '?')}, cached in {cache_file()})"
    return {"library": entry["library"], "why": why, "gflops": entry.get("gflops", {}), "shape": list(shape)}


def set_by_caller(name: str) -> None:
    """``nairrcore.set_cpu_matmul``: the caller's choice stands for the process."""
    global _caller
    _core.set_cpu_matmul(name)
    _caller = {"library": name, "why": "set by nairrcore.set_cpu_matmul"}


def ensure_chosen(shape: tuple[int, int, int] | None = None, library: str = "") -> dict:
    """The choice for a layer of ``shape`` (the default shape for None),
    made on first use in this process and applied; ``library`` names one."""
    if _caller is not None:
        return dict(_caller)
    shape = tuple(shape or SHAPE)
    if library:
        _core.set_cpu_matmul(library)
        return choose(library)
    if shape not in _chosen:
        _chosen[shape] = choose(shape=shape)
    _core.set_cpu_matmul(_chosen[shape]["library"])
    return dict(_chosen[shape])
