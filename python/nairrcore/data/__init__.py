"""Data sets: fetching with checksums or preparing a local copy, reading them
into tensors (weather rows and features, CIFAR-10 images), fingerprints."""

from nairrcore.data.fetch import DATASETS, cache_dir, fetch
from nairrcore.data.fingerprint import fingerprint_files

__all__ = ["DATASETS", "cache_dir", "fetch", "fingerprint_files"]
