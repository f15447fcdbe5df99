"""Content fingerprints of the files a run read."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint_files(paths: list[str]) -> dict:
    """sha256 over (file name, file sha256) pairs, in the order given, plus counts.

    File names, not full paths, enter the hash so the same data in another
    folder gives the same fingerprint.
    """
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        digests = list(pool.map(sha256_file, paths))
    combined = hashlib.sha256()
    total = 0
    for path, digest in zip(paths, digests):
        combined.update(f"{Path(path).name}:{digest}\n".encode())
        total += os.path.getsize(path)
    return {"sha256": combined.hexdigest(), "files": len(paths), "bytes": total}
