"""Reading CIFAR-10 (official binary layout) from its archive, its folder or
the ``.bin.xz`` files, without extracting anything to disk."""

from __future__ import annotations

import lzma
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from nairrcore._native import core as _core
from nairrcore.cifar10.config import CLASSES
from nairrcore.data import fetch
from nairrcore.data.fingerprint import fingerprint_blobs
from nairrcore.errors import DataError

TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)


@dataclass(frozen=True)
class ImageSet:
    images: torch.Tensor  # uint8 [N, 3, 32, 32]
    labels: torch.Tensor  # int64 [N]

    def __len__(self) -> int:
        return self.labels.shape[0]

    def head(self, n: int) -> "ImageSet":
        return self if n <= 0 or n >= len(self) else ImageSet(self.images[:n], self.labels[:n])


@dataclass
class Cifar10Data:
    train: ImageSet
    test: ImageSet
    source: str
    prep_seconds: float
    read_bytes: int
    fingerprint: dict
    classes: tuple[str, ...] = CLASSES

    def summary(self) -> dict:
        return {"source": self.source, "train": len(self.train), "test": len(self.test),
                "prep_seconds": round(self.prep_seconds, 3), "read_mb_per_s":
                round(self.read_bytes / 1e6 / max(self.prep_seconds, 1e-9), 1), "fingerprint": self.fingerprint}


def _read_member(label: str, reader) -> bytes:
    try:
        return reader()
    except (lzma.LZMAError, EOFError, tarfile.TarError, OSError) as exc:
        raise DataError(f"{label}: corrupt or truncated ({type(exc).__name__}: {exc})") from exc


def read_blobs(path: str | Path, names: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """The decompressed bytes of ``names`` from a folder (``.bin`` or
    ``.bin.xz``, also one level down) or a ``.tar.gz`` archive, in order."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file():
        try:
            archive = tarfile.open(path)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"{path}: not a readable CIFAR-10 archive ({exc})") from exc
        with archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
            out = []
            for name in names:
                if name not in members:
                    raise DataError(f"{path}: archive has no {name}")
                out.append((f"{path}:{name}",
                            _read_member(f"{path}:{name}", lambda: archive.extractfile(members[name]).read())))
            return out
    folders = [path] + sorted(p for p in path.iterdir() if p.is_dir())
    files = []
    for name in names:
        found = [f for folder in folders for f in (folder / name, folder / (name + ".xz")) if f.is_file()]
        if not found:
            raise DataError(f"{path}: missing {name} (or {name}.xz)")
        files.append(found[0])

    def read(f: Path) -> tuple[str, bytes]:
        opener = (lambda: lzma.open(f).read()) if f.suffix == ".xz" else f.read_bytes
        return str(f), _read_member(str(f), opener)

    # xz decompression releases the GIL: one thread per file
    with ThreadPoolExecutor(max_workers=min(len(files), os.cpu_count() or 1)) as pool:
        return list(pool.map(read, files))


def load(path: str | Path | None = None, *, train_limit: int = 0, test_limit: int = 0,
         threads: int = 0) -> Cifar10Data:
    """CIFAR-10 as uint8 image tensors [N, 3, 32, 32] with int64 labels.

    ``path``: the official ``cifar-10-binary.tar.gz``, its extracted folder,
    a folder of ``*.bin.xz`` files, or None to use the fetched copy
    (``nairrcore data fetch cifar10``). Sizes and labels are checked by the
    C++ reader; the fingerprint hashes the decompressed files read.
    """
    t0 = time.perf_counter()
    source = Path(path) if path is not None else fetch("cifar10")
    blobs = read_blobs(source, TRAIN_FILES + TEST_FILES)
    train_blobs, test_blobs = blobs[:len(TRAIN_FILES)], blobs[len(TRAIN_FILES):]
    train_x, train_y = _core.parse_cifar(train_blobs, "nchw", threads)
    test_x, test_y = _core.parse_cifar(test_blobs, "nchw", threads)
    fp = fingerprint_blobs([(Path(n.split(":")[-1]).name.removesuffix(".xz"), b) for n, b in blobs])
    fp.update(train_samples=int(train_y.numel()), test_samples=int(test_y.numel()))
    return Cifar10Data(train=ImageSet(train_x, train_y).head(train_limit),
                       test=ImageSet(test_x, test_y).head(test_limit), source=str(source),
                       prep_seconds=time.perf_counter() - t0, read_bytes=sum(len(b) for _, b in blobs),
                       fingerprint=fp)
