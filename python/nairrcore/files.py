"""Files in and out, for every part of the package: atomic writes (a
temporary file in the same folder, then a rename, so nothing is ever left
half-written), the run manifest, and reading archives (tar in any
compression, zip) with errors that name the file.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import lzma
import os
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from nairrcore.errors import DataError


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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that needs a file name
    (a download, matplotlib); renamed to ``path`` when the block succeeds,
    removed when it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp" + path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """A matplotlib figure as PNG, written atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return Path(path)


def save_torch(obj, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` into ``path`` atomically, forced to disk (models, checkpoints)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return write_bytes(path, buf.getvalue(), fsync=True)


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


_ARCHIVE_ERRORS = (tarfile.TarError, zipfile.BadZipFile, lzma.LZMAError, EOFError, OSError)


def archive_members(archive: str | os.PathLike, want: Callable[[str], bool]) -> dict[str, bytes]:
    """The contents of the regular files of a tar archive (any compression)
    whose base name ``want`` accepts, by base name; DataError naming the
    archive when it is unreadable, truncated or corrupt."""
    archive = Path(archive)
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                name = Path(member.name).name
                if member.isfile() and want(name):
                    out[name] = tar.extractfile(member).read()
    except _ARCHIVE_ERRORS as exc:
        raise DataError(f"{archive}: cannot read archive ({type(exc).__name__}: {exc})") from exc
    return out


def extract_archive(archive: str | os.PathLike, out: str | os.PathLike) -> None:
    """A tar (any compression) or zip archive into folder ``out`` (zips nested
    in a zip, as figshare bundles them, too); members that would land outside
    ``out`` are refused. DataError naming the archive on any failure."""
    archive, out = Path(archive), Path(out)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                z.extractall(out)
            for inner in list(out.rglob("*.zip")):
                with zipfile.ZipFile(inner) as z:
                    z.extractall(inner.parent)
                inner.unlink()
            return
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(out, filter="data")
            else:  # Python < 3.11.4
                tar.extractall(out)
    except _ARCHIVE_ERRORS as exc:
        raise DataError(f"{archive}: cannot extract archive ({type(exc).__name__}: {exc})") from exc
