"""Loads the compiled core after checking it was built for the torch in use.

torch must be imported first so that libtorch is loaded, and an extension
built against another torch fails with unresolved symbols or, worse, runs
with a mismatched ABI: refuse with a clear message instead.
"""

from __future__ import annotations

import importlib

import torch


def _check_torch(built: str, running: str) -> None:
    if built != running:
        raise ImportError(
            f"nairrcore's compiled core was built against torch {built}, but torch {running} "
            "is installed. Rebuild it for this torch: "
            "pip install --no-build-isolation --force-reinstall --no-deps ."
        )


def _load():
    try:
        build_config = importlib.import_module("nairrcore._build_config")
    except ModuleNotFoundError as exc:
        raise ImportError(
            "nairrcore's compiled core is missing (no _build_config); install the package with "
            "pip install --no-build-isolation . so that it is built"
        ) from exc
    _check_torch(build_config.TORCH_VERSION, torch.__version__)
    return importlib.import_module("nairrcore._core")


core = _load()
