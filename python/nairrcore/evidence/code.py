"""What a plain run ran, as hashes the reports compare: the code (a
notebook's code cells, a script's bytes, a command's words and the files it
names), the parameters and the inputs the user declared (files and folders
hashed by content; a file's hash is cached by path, size and modification
time, so a large folder is read once)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from nairrcore.data.fetch import cache_dir
from nairrcore.data.fingerprint import sha256_file
from nairrcore.errors import ConfigError
from nairrcore.files import write_json

INJECTED_TAG = "injected-parameters"


def _digest(parts: list[str]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def notebook_code(nb) -> dict:
    """The notebook's code cells as written: outputs, markdown and a cell of
    injected parameters (recorded as parameters) leave the hash unchanged."""
    cells = [c.source for c in nb.cells if c.cell_type == "code"
             and INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    return {"kind": "notebook", "sha256": _digest(cells), "cells": len(cells)}


def command_code(argv: list[str], cwd: Path) -> dict:
    """A command's words, with the bytes of every argument that is a file
    (``python train.py``: the script), so an edited script is another code.
    The program is known by its name alone (``/opt/venv/bin/python`` is
    ``python``): it belongs to the environment, recorded in env/."""
    parts, files = [Path(argv[0]).name], []
    for arg in argv[1:]:
        path = (cwd / arg) if not os.path.isabs(arg) else Path(arg)
        if path.is_file():
            parts.append(f"{Path(arg).name}:{sha256_file(path)}")
            files.append(arg)
        else:
            parts.append(arg)
    return {"kind": "command", "sha256": _digest(parts), "argv": list(argv), "files": files}


def params_digest(params: dict) -> str:
    return _digest([json.dumps(params, sort_keys=True, default=str)])


class InputHasher:
    """sha256 of declared inputs, each file's hash cached under the user's
    cache by (resolved path, size, mtime) in one JSON file."""

    def __init__(self, cache_file: Path | None = None) -> None:
        self.cache_file = cache_file or cache_dir().parent / "input-hashes.json"
        try:
            self._cache = json.loads(self.cache_file.read_text())
        except (OSError, ValueError):
            self._cache = {}
        self.files_read = 0

    def _file(self, path: Path) -> str:
        st = path.stat()
        key = str(path.resolve())
        stamp = [st.st_size, st.st_mtime_ns]
        hit = self._cache.get(key)
        if isinstance(hit, dict) and hit.get("stamp") == stamp:
            return hit["sha256"]
        digest = sha256_file(path)
        self.files_read += 1
        self._cache[key] = {"stamp": stamp, "sha256": digest}
        return digest

    def input(self, given: str) -> dict:
        """{path, sha256, files, bytes} of one declared input; ConfigError if it does not exist."""
        path = Path(given).expanduser()
        if path.is_file():
            files = [path]
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
        else:
            raise ConfigError(f"--input: {given}: no such file or folder")
        names = [(p.relative_to(path).as_posix() if path.is_dir() else p.name, self._file(p)) for p in files]
        return {"path": str(given), "sha256": _digest([f"{n}:{d}" for n, d in names]), "files": len(files),
                "bytes": sum(p.stat().st_size for p in files)}

    def inputs(self, given: list[str]) -> list[dict]:
        out = [self.input(g) for g in given]
        if self.files_read:
            try:
                write_json(self.cache_file, self._cache)
            except OSError:  # a read-only cache costs a re-read next time, nothing else
                pass
        return out
