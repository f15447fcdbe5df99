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


def _combine(named_digests: list[tuple[str, str]], total_bytes: int) -> dict:
    combined = hashlib.sha256()
    for name, digest in named_digests:
        combined.update(f"{name}:{digest}\n".encode())
    return {"sha256": combined.hexdigest(), "files": len(named_digests), "bytes": total_bytes}


def fingerprint_files(paths: list[str]) -> dict:
    """sha256 over (file name, file sha256) pairs, in the order given, plus counts.

    File names, not full paths, enter the hash so the same data in another
    folder gives the same fingerprint.
    """
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        digests = list(pool.map(sha256_file, paths))
    return _combine([(Path(p).name, d) for p, d in zip(paths, digests)], sum(os.path.getsize(p) for p in paths))


def fingerprint_blobs(named: list[tuple[str, bytes]]) -> dict:
    """The same fingerprint for contents already in memory (e.g. decompressed)."""
    return _combine([(name, hashlib.sha256(blob).hexdigest()) for name, blob in named],
                    sum(len(blob) for _, blob in named))
