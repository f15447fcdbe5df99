"""nairrcore: the same ML workload on any platform, measured honestly.

The compiled core (``nairrcore._core``) holds the readers, feature
engineering, loaders and training loops; this package is a small typed API
over it, the workloads behind one interface, evidence recording, reports and
a command line. Layers, lowest first (a module imports only from its own
layer or those below): errors, settings, files, platforms, progress ->
data, loaders, distributed -> training -> workload, forecasting, cifar10 ->
evidence -> execute, reports -> jobs -> cli.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version as _version

from nairrcore._native import core as _core
from nairrcore.errors import ConfigError, DataError

try:
    __version__ = _version("nairrcore")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"


def build_info() -> dict:
    """What the compiled core was built with (torch, CUDA, NCCL, architectures, compiler)."""
    return dict(_core.build_info())


def cpu_matmul() -> str:
    """The library for the fp32 CPU matrix products of nairrcore's layers:
    "onednn" or "blas". A process's first CPU fit chooses it by measurement on
    this processor (cached; see ``nairrcore.training.cpu_library``)."""
    return str(_core.cpu_matmul())


def set_cpu_matmul(name: str) -> None:
    """Use the CPU matrix library ``name`` ("onednn" or "blas") for this
    process, instead of the measured choice (as NAIRRCORE_CPU_MATMUL does)."""
    _cpu_library.set_by_caller(name)


@contextlib.contextmanager
def using_cpu_matmul(name: str) -> Iterator[None]:
    """set_cpu_matmul(name) for the block, then the library in use before it."""
    before = cpu_matmul()
    set_cpu_matmul(name)
    try:
        yield
    finally:
        set_cpu_matmul(before)


def cpu_block_cache() -> bool:
    """Whether a CPU fit() keeps its freed blocks of 1 MiB and more for reuse
    (on by default) instead of handing them back to the C library every step."""
    return bool(_core.cpu_block_cache())


def set_cpu_block_cache(enabled: bool) -> None:
    """Switch the CPU block cache for fits started from now on; the environment
    variable NAIRRCORE_CPU_BLOCK_CACHE=0 (RunOptions.cpu_block_cache) turns it off for fits."""
    _core.set_cpu_block_cache(bool(enabled))


# The public modules (each needs the core loaded above).
from nairrcore import cifar10, data, evidence, forecasting, training, workload  # noqa: E402
from nairrcore.evidence import RunRecorder, track  # noqa: E402
from nairrcore.loaders import ImageLoader, TabularLoader  # noqa: E402
from nairrcore.settings import Settings, setting  # noqa: E402
from nairrcore.training import ModelSettings, ModelTrainer, TensorData  # noqa: E402
from nairrcore.training import cpu_library as _cpu_library  # noqa: E402
from nairrcore.workload import Metric, Workload, register  # noqa: E402

__all__ = ["ConfigError", "DataError", "ImageLoader", "Metric", "ModelSettings", "ModelTrainer", "RunRecorder",
           "Settings", "TabularLoader", "TensorData", "Workload", "build_info", "cifar10", "cpu_block_cache",
           "cpu_matmul", "data", "evidence", "forecasting", "register", "set_cpu_block_cache", "set_cpu_matmul",
           "setting", "track", "training", "using_cpu_matmul", "workload", "__version__"]
