"""Data sets: fetching with checksums, local sources, fingerprints."""

from nairrcore.data.fetch import DATASETS, cache_dir, fetch
from nairrcore.data.fingerprint import fingerprint_files

__all__ = ["DATASETS", "cache_dir", "fetch", "fingerprint_files"]
