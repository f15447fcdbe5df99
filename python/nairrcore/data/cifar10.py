"""CIFAR-10 (official binary layout) read from its archive, its folder or the
``.bin.xz`` files, without extracting anything to disk; sizes and labels
are checked by the C++ reader. A seeded part of the training images can be
held out for validation."""

from __future__ import annotations

import lzma
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from nairrcore._native import core as _core
from nairrcore.data.fetch import fetch
from nairrcore.data.fingerprint import fingerprint_blobs
from nairrcore.errors import ConfigError, DataError
from nairrcore.files import archive_members

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# Per-channel mean and std of the training images (pixel value / 255).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)


@dataclass(frozen=True)
class ImageSet:
    images: torch.Tensor  # uint8 [N, 3, 32, 32]
    labels: torch.Tensor  # int64 [N]

    def __len__(self) -> int:
        return self.labels.shape[0]

    def head(self, n: int) -> "ImageSet":
        """The first ``n`` images (all for n <= 0)."""
        return self if n <= 0 or n >= len(self) else ImageSet(self.images[:n], self.labels[:n])

    def take(self, index: torch.Tensor) -> "ImageSet":
        return ImageSet(self.images[index], self.labels[index])


@dataclass
class Cifar10Data:
    train: ImageSet
    val: ImageSet      # held out from the training images (may be empty)
    test: ImageSet
    source: str
    prep_seconds: float
    read_bytes: int
    fingerprint: dict
    classes: tuple[str, ...] = CLASSES

    def limited(self, train_limit: int = 0, test_limit: int = 0, val_size: int = 0, seed: int = 42) -> "Cifar10Data":
        """The first ``train_limit`` training (of train + val) and ``test_limit``
        test images (0: all), with ``val_size`` of the training ones held out."""
        everything = ImageSet(torch.cat([self.train.images, self.val.images]),
                              torch.cat([self.train.labels, self.val.labels])) if len(self.val) else self.train
        train, val = split_validation(everything.head(train_limit), val_size, seed)
        return Cifar10Data(train, val, self.test.head(test_limit), self.source, self.prep_seconds, self.read_bytes,
                           self.fingerprint, self.classes)

    def summary(self) -> dict:
        return {"source": self.source, "train": len(self.train), "val": len(self.val), "test": len(self.test),
                "prep_seconds": round(self.prep_seconds, 3), "read_mb_per_s":
                round(self.read_bytes / 1e6 / max(self.prep_seconds, 1e-9), 1), "fingerprint": self.fingerprint}


def split_validation(images: ImageSet, val_size: int, seed: int) -> tuple[ImageSet, ImageSet]:
    """(train, val): ``val_size`` images drawn without replacement by a
    generator seeded with ``seed``, both kept in their original order."""
    if not 0 <= val_size < len(images):
        raise ConfigError(f"val_size: expected 0 <= val_size < {len(images)} training images, got {val_size}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    val_index, train_index = order[:val_size].sort().values, order[val_size:].sort().values
    return images.take(train_index), images.take(val_index)


def read_blobs(path: str | Path, names: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """The decompressed bytes of ``names`` from a folder (``.bin`` or
    ``.bin.xz``, also one level down) or a ``.tar.gz`` archive, in order."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file():
        members = archive_members(path, lambda name: name in names)
        missing = [n for n in names if n not in members]
        if missing:
            raise DataError(f"{path}: archive has no {missing[0]}; not the CIFAR-10 binary archive")
        return [(f"{path}:{name}", members[name]) for name in names]
    folders = [path] + sorted(p for p in path.iterdir() if p.is_dir())
    files = []
    for name in names:
        found = [f for folder in folders for f in (folder / name, folder / (name + ".xz")) if f.is_file()]
        if not found:
            raise DataError(f"{path}: missing {name} (or {name}.xz)")
        files.append(found[0])

    def read(f: Path) -> tuple[str, bytes]:
        try:
            return str(f), lzma.open(f).read() if f.suffix == ".xz" else f.read_bytes()
        except (lzma.LZMAError, EOFError, OSError) as exc:
            raise DataError(f"{f}: corrupt or truncated ({type(exc).__name__}: {exc})") from exc

    # xz decompression releases the GIL: one thread per file
    with ThreadPoolExecutor(max_workers=min(len(files), os.cpu_count() or 1)) as pool:
        return list(pool.map(read, files))


def load(path: str | Path | None = None, *, train_limit: int = 0, test_limit: int = 0, val_size: int = 0,
         seed: int = 42, threads: int = 0) -> Cifar10Data:
    """CIFAR-10 as uint8 image tensors [N, 3, 32, 32] with int64 labels.

    ``path``: the official ``cifar-10-binary.tar.gz``, its extracted folder,
    a folder of ``*.bin.xz`` files, or None to use the fetched copy
    (``nairrcore data fetch cifar10``). ``train_limit``/``test_limit``: the
    first N images (0: all); ``val_size`` of the (limited) training images are
    held out for validation, drawn with ``seed``. The fingerprint hashes the
    decompressed files read.
    """
    t0 = time.perf_counter()
    source = Path(path) if path is not None else fetch("cifar10")
    blobs = read_blobs(source, TRAIN_FILES + TEST_FILES)
    train_blobs, test_blobs = blobs[:len(TRAIN_FILES)], blobs[len(TRAIN_FILES):]
    official = _core.CIFAR_FILE_RECORDS
    train_x, train_y = _core.parse_cifar(train_blobs, "nchw", threads, official)
    test_x, test_y = _core.parse_cifar(test_blobs, "nchw", threads, official)
    fp = fingerprint_blobs([(Path(n.split(":")[-1]).name.removesuffix(".xz"), b) for n, b in blobs])
    fp.update(train_samples=int(train_y.numel()), test_samples=int(test_y.numel()))
    train, val = split_validation(ImageSet(train_x, train_y).head(train_limit), val_size, seed)
    return Cifar10Data(train=train, val=val, test=ImageSet(test_x, test_y).head(test_limit), source=str(source),
                       prep_seconds=time.perf_counter() - t0, read_bytes=sum(len(b) for _, b in blobs),
                       fingerprint=fp)


__all__ = ["CLASSES", "Cifar10Data", "ImageSet", "MEAN", "STD", "load", "read_blobs", "split_validation"]
