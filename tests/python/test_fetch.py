import dataclasses
import hashlib
import lzma
import shutil

import pytest

import nairrcore
from conftest import SHARED_DATA, WEATHER_ARCHIVE
from nairrcore.data import DATASETS, fetch


def test_weather_from_archive_is_cached(tmp_path):
    first = fetch("weather", dest=tmp_path, source=WEATHER_ARCHIVE)
    assert (first / "city_info.csv").is_file()
    assert len(list(first.glob("*.csv"))) == 211
    mtime = (first / "city_info.csv").stat().st_mtime_ns
    again = fetch("weather", dest=tmp_path, source=WEATHER_ARCHIVE)
    assert again == first and (again / "city_info.csv").stat().st_mtime_ns == mtime
    assert fetch("weather", source=first) == first  # a prepared folder is used in place
    assert not list(tmp_path.glob(".partial-*"))


def test_truncated_archive_names_the_file_and_leaves_nothing(tmp_path):
    bad = tmp_path / "broken.tar.xz"
    bad.write_bytes(WEATHER_ARCHIVE.read_bytes()[:200_000])
    dest = tmp_path / "cache"
    with pytest.raises(nairrcore.DataError, match="broken.tar.xz"):
        fetch("weather", dest=dest, source=bad)
    assert not (dest / "prepared").exists()
    assert not list(dest.glob(".partial-*"))


@pytest.mark.slow  # decompresses all of CIFAR-10
def test_cifar10_from_xz_files_is_checksummed(tmp_path):
    folder = fetch("cifar10", dest=tmp_path, source=SHARED_DATA / "cifar-10-batches-bin")
    data = (folder / "data_batch_1.bin").read_bytes()
    assert len(data) == 10000 * 3073
    assert data[0] == 6 and list(data[1:5]) == [59, 43, 50, 68]
    assert hashlib.sha256(data).hexdigest().startswith("cee91656")


@pytest.mark.slow  # decompresses all of CIFAR-10
def test_corrupt_cifar_file_fails_checksum(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in (SHARED_DATA / "cifar-10-batches-bin").glob("*.xz"):
        shutil.copy(f, src / f.name)
    raw = bytearray(lzma.decompress((src / "data_batch_1.bin.xz").read_bytes()))
    raw[100] ^= 0xFF
    (src / "data_batch_1.bin.xz").write_bytes(lzma.compress(bytes(raw), preset=0))
    with pytest.raises(nairrcore.DataError, match="data_batch_1.bin: sha256"):
        fetch("cifar10", dest=tmp_path / "cache", source=src)


def test_unknown_dataset_and_missing_source(tmp_path):
    with pytest.raises(nairrcore.ConfigError, match="unknown data set"):
        fetch("mnist", dest=tmp_path)
    with pytest.raises(nairrcore.DataError, match="nope"):
        fetch("weather", dest=tmp_path, source=tmp_path / "nope")


def test_a_failed_download_says_how_to_fetch_from_a_local_copy(tmp_path, monkeypatch):
    """No network (a closed local port stands in for the publisher): a DataError naming
    the address, the cache that holds no copy and the command that fills it; nothing left behind."""
    unreachable = dataclasses.replace(DATASETS["cifar10"], url="http://127.0.0.1:9/cifar-10-binary.tar.gz")
    monkeypatch.setitem(DATASETS, "cifar10", unreachable)
    with pytest.raises(nairrcore.DataError) as err:
        fetch("cifar10", dest=tmp_path)
    message = str(err.value)
    assert message.startswith("http://127.0.0.1:9/cifar-10-binary.tar.gz: cannot download (")
    assert f"no fetched copy of the cifar10 data set in {tmp_path}" in message
    assert "nairrcore data fetch cifar10 --from PATH" in message
    assert list(tmp_path.iterdir()) == []
