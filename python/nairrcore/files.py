"""Atomic file writes for evidence: temp file in the same folder, then rename."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path


def write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> Path:
    """``data`` into ``path`` through a temporary file in the same folder and a
    rename; ``fsync`` also forces it to disk first (checkpoints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; evidence is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """A matplotlib figure as PNG, written to a temporary name and renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".tmp.png")
    fig.savefig(tmp, dpi=dpi)
    tmp.replace(path)
    return path


def write_json(path: str | os.PathLike, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_csv(path: str | os.PathLike, columns: list[str], rows: list[dict]) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return write_text(path, buf.getvalue())


def write_manifest(run_dir: str | os.PathLike) -> Path:
    """MANIFEST.sha256 over every file of the run (sha256sum -c compatible)."""
    run_dir = Path(run_dir)
    lines = []
    for p in sorted(run_dir.rglob("*")):
        if p.is_file() and p.name != "MANIFEST.sha256" and not p.name.startswith("."):
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            lines.append(f"{digest}  {p.relative_to(run_dir).as_posix()}")
    return write_text(run_dir / "MANIFEST.sha256", "\n".join(lines) + "\n")
