"""Fetch the reference data sets from their official sources, or prepare them
from a local archive or folder, into a cache outside the repository.

Every step writes into a temporary folder next to the destination and renames
it into place, so an interrupted fetch leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import lzma
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from nairrcore.data.fingerprint import sha256_file
from nairrcore.errors import ConfigError, DataError
from nairrcore.files import extract_archive, write_text
from nairrcore.progress import progress_bar


@dataclass(frozen=True)
class DatasetSource:
    name: str
    url: str
    citation: str
    # Checksum of the downloaded file where the publisher's file is fixed.
    download_md5: str | None = None
    # sha256 of files inside the prepared folder, checked after every fetch.
    content_sha256: dict[str, str] = field(default_factory=dict)
    # File that marks the prepared folder (found anywhere in an extracted tree).
    marker: str = ""


DATASETS: dict[str, DatasetSource] = {
    "weather": DatasetSource(
        name="weather",
        # KiltHub (figshare) version 4 of doi:10.1184/R1/7890488, records to 2020-12-31.
        url="https://kilthub.cmu.edu/ndownloader/articles/7890488/versions/4",
        citation="Lai, Y. and Dzombak, D. A., Compiled historical daily temperature and "
        "precipitation data for selected 210 U.S. cities, Carnegie Mellon University, "
        "KiltHub, doi:10.1184/R1/7890488",
        content_sha256={
            "city_info.csv": "3b8cc1ef13df37221ab474a2264978c2ebbb9fb5966310e69c324b342bcbb597",
        },
        marker="city_info.csv",
    ),
    "cifar10": DatasetSource(
        name="cifar10",
        url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        citation="Krizhevsky, A., Learning Multiple Layers of Features from Tiny Images, 2009",
        download_md5="c32a1d4ab5d03f1284b67883e8d87530",
        content_sha256={
            "data_batch_1.bin": "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
            "data_batch_2.bin": "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
            "data_batch_3.bin": "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
            "data_batch_4.bin": "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
            "data_batch_5.bin": "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
            "test_batch.bin": "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
        },
        marker="data_batch_1.bin",
    ),
}

_STAMP = ".nairrcore-source.json"


def cache_dir() -> Path:
    """``$NAIRRCORE_CACHE``, else ``$XDG_CACHE_HOME/nairrcore/data`` (``~/.cache``)."""
    env = os.environ.get("NAIRRCORE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nairrcore" / "data"


def fetch(name: str, dest: str | os.PathLike | None = None, source: str | os.PathLike | None = None,
          *, force: bool = False, verify: bool = True) -> Path:
    """Return a folder holding data set ``name`` ("weather" or "cifar10") ready to read.

    ``source`` may be the publisher's archive, an extracted folder, or (CIFAR-10)
    a folder of ``*.bin.xz`` files. The prepared copy lives in ``dest``
    (default: ``cache_dir()/name``); a folder source that is already prepared
    is used where it is. Without ``source``, a copy prepared earlier (from any
    source) is used when its checksums verify, else the official archive is
    downloaded.
    """
    if name not in DATASETS:
        raise ConfigError(f"fetch: unknown data set '{name}', expected one of {sorted(DATASETS)}")
    spec = DATASETS[name]
    dest = Path(dest) if dest is not None else cache_dir() / name
    if source is not None:
        source = Path(source).expanduser()
        if not source.exists():
            raise DataError(f"{source}: no such file or folder")
        if source.is_dir():
            ready = _find_marker(source, spec.marker)
            if ready is not None:
                _verify(ready, spec, strict=verify)
                return ready
    stamp_key = _source_key(source) if source is not None else {"url": spec.url}
    prepared = dest / "prepared"
    if not force and prepared.exists():
        try:
            stamp = json.loads((dest / _STAMP).read_text())
        except (OSError, ValueError):
            stamp = None
        found = _find_marker(prepared, spec.marker) if stamp is not None else None
        if found is not None and (stamp == stamp_key or source is None):
            _verify(found, spec, strict=verify and stamp != stamp_key)
            return found
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".partial-") as tmp:
        tmp = Path(tmp)
        archive = _download(spec, tmp) if source is None else source
        label = spec.url if source is None else str(archive)  # the temporary copy is gone when the error is read
        out = tmp / "prepared"
        out.mkdir()
        try:
            if archive.is_dir():
                _decompress_xz_folder(archive, out)
            else:
                extract_archive(archive, out)
        except DataError as exc:
            raise DataError(str(exc).replace(str(archive), label)) from exc
        found = _find_marker(out, spec.marker)
        if found is None:
            raise DataError(f"{label}: does not contain {spec.marker}; not the {name} data set")
        _verify(found, spec, strict=verify)
        if prepared.exists():
            shutil.rmtree(prepared)
        os.replace(out, prepared)
        write_text(dest / _STAMP, json.dumps(stamp_key))
    return _find_marker(prepared, spec.marker)


def _source_key(source: Path) -> dict:
    st = source.stat()
    return {"source": str(source.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _find_marker(root: Path, marker: str) -> Path | None:
    if (root / marker).is_file():
        return root
    for hit in sorted(root.rglob(marker)):
        return hit.parent
    return None


def _verify(folder: Path, spec: DatasetSource, strict: bool) -> None:
    for fname, expected in spec.content_sha256.items():
        path = folder / fname
        if not path.is_file():
            raise DataError(f"{path}: missing from the {spec.name} data set")
        if strict:
            actual = sha256_file(path)
            if actual != expected:
                raise DataError(
                    f"{path}: sha256 {actual} does not match the published {expected}; "
                    "the file is corrupt or from another release (pass verify=False to accept it)"
                )


def _download(spec: DatasetSource, tmp: Path) -> Path:
    target = tmp / Path(spec.url).name
    md5 = hashlib.md5()
    try:
        with urllib.request.urlopen(spec.url) as response, open(target, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with progress_bar(total=total, unit="B", unit_scale=True, desc=f"fetch {spec.name}") as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    md5.update(block)
                    bar.update(len(block))
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as exc:
        # (not every OSError: a full disk while writing the copy is not a failed download)
        reason = getattr(exc, "reason", None) or exc
        raise DataError(f"{spec.url}: cannot download ({reason}); there is no fetched copy of the {spec.name} "
                        f"data set in {tmp.parent}: fetch one from a local archive or folder with "
                        f"`nairrcore data fetch {spec.name} --from PATH`, or set NAIRRCORE_DATA to one") from exc
    if spec.download_md5 and md5.hexdigest() != spec.download_md5:
        raise DataError(f"{spec.url}: md5 {md5.hexdigest()} does not match the published {spec.download_md5}")
    return target


def _decompress_xz_folder(folder: Path, out: Path) -> None:
    files = sorted(folder.glob("*.xz"))
    if not files:
        raise DataError(f"{folder}: no data files found (expected the extracted set or *.xz files)")
    for xz in files:
        try:
            with lzma.open(xz) as src, open(out / xz.stem, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (lzma.LZMAError, EOFError) as exc:
            raise DataError(f"{xz}: corrupt or truncated xz file ({exc})") from exc
    for other in folder.iterdir():
        if other.is_file() and other.suffix != ".xz":
            shutil.copy2(other, out / other.name)
