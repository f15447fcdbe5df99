"""The bad-input table: every broken file or setting raises a specific
exception whose message names the offending file (or setting)."""

from __future__ import annotations

import lzma
import shutil
from pathlib import Path

import pytest

from nairrcore import cifar10
from nairrcore import forecasting as fc
from nairrcore.data import fetch
from nairrcore.errors import ConfigError, DataError
from nairrcore.platforms import check_platform

from conftest import CIFAR_DIR

CITIES = ["USW00023044", "USW00024021"]  # El Paso, Lander


@pytest.fixture
def usdata(weather_dir, tmp_path) -> Path:
    """A copy of the real data set reduced to two cities."""
    d = tmp_path / "USdata"
    d.mkdir()
    shutil.copy(weather_dir / "city_info.csv", d / "city_info.csv")
    for c in CITIES:
        shutil.copy(weather_dir / f"{c}.csv", d / f"{c}.csv")
    return d


def _edit(path: Path, fn) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


def _set_field(lines, row, col, value):
    fields = lines[row].split(",")
    fields[col] = value
    lines[row] = ",".join(fields)
    return lines


WEATHER_CASES = {
    # name: (mutation of USW00023044.csv, exception, text in the message)
    "empty CSV": (lambda p: p.write_text(""), DataError, "empty file"),
    "renamed column": (lambda p: _edit(p, lambda ls: [ls[0].replace("tmax", "Tmax_F")] + ls[1:]), DataError,
                       "missing column 'tmax'"),
    "non-numeric text": (lambda p: _edit(p, lambda ls: _set_field(ls, 5, 2, "warm")), DataError, "expected a number"),
    "bad date": (lambda p: _edit(p, lambda ls: _set_field(ls, 5, 1, "2001-02-30")), DataError, "YYYY-MM-DD"),
    "duplicated date": (lambda p: _edit(p, lambda ls: ls[:6] + [ls[5]] + ls[6:]), DataError, "duplicated date"),
    "infinite value": (lambda p: _edit(p, lambda ls: _set_field(ls, 7, 3, "inf")), DataError, "expected a number"),
    "no usable rows": (lambda p: _edit(p, lambda ls: [ls[0]] + [",".join(r.split(",")[:2] + ["NA", "NA", "NA"])
                                                              for r in ls[1:]]), DataError, "no usable rows"),
    "short row": (lambda p: _edit(p, lambda ls: ls[:9] + ['"9",1900-01-09'] + ls[10:]), DataError, "fields"),
    "missing file": (lambda p: p.unlink(), DataError, "file is missing"),
    "unreadable file": (lambda p: (p.unlink(), p.mkdir()), DataError, ""),
}


@pytest.mark.parametrize("case", sorted(WEATHER_CASES))
def test_broken_city_file(usdata, case):
    mutate, exc, text = WEATHER_CASES[case]
    target = usdata / "USW00023044.csv"
    mutate(target)
    with pytest.raises(exc) as info:
        fc.load(usdata, cities=list(CITIES))
    assert "USW00023044" in str(info.value) and text in str(info.value)


def test_broken_city_info(usdata):
    with pytest.raises(ConfigError, match=r"unknown city ID 'USW99999999'.*city_info\.csv"):
        fc.load(usdata, cities=["USW99999999"])
    _edit(usdata / "city_info.csv", lambda ls: [ls[0].replace('"Lat"', '"Latitude"')] + ls[1:])
    with pytest.raises(DataError, match=r"city_info\.csv: sha256"):  # the published checksum catches it
        fc.load(usdata, cities=list(CITIES))
    with pytest.raises(DataError, match=r"city_info\.csv.*Lat"):  # and so does the reader
        fc.load(usdata, cities=list(CITIES), verify=False)
    (usdata / "city_info.csv").write_text("")
    with pytest.raises(DataError, match=r"city_info\.csv: empty file"):
        fc.load(usdata, cities=list(CITIES), verify=False)
    with pytest.raises(DataError, match="nowhere"):
        fc.load(usdata.parent / "nowhere", cities=2)


@pytest.fixture
def cifar_dir(tmp_path) -> Path:
    d = tmp_path / "cifar"
    d.mkdir()
    for f in CIFAR_DIR.glob("*.bin.xz"):
        shutil.copy(f, d / f.name)
    return d


def _rewrite_xz(path: Path, fn) -> None:
    path.write_bytes(lzma.compress(fn(lzma.decompress(path.read_bytes())), preset=0))


CIFAR_CASES = {
    "truncated file": (lambda d: _rewrite_xz(d / "test_batch.bin.xz", lambda b: b[:-100]), "test_batch.bin.xz",
                       "not a whole number"),
    "label out of range": (lambda d: _rewrite_xz(d / "test_batch.bin.xz", lambda b: b[:3073] + b"\x0a" + b[3074:]),
                           "test_batch.bin.xz", "record 1 has label 10"),
    "corrupt xz": (lambda d: (d / "data_batch_2.bin.xz").write_bytes(b"\xfd7zXZ\x00garbage"), "data_batch_2.bin.xz",
                   "corrupt or truncated"),
    "missing file": (lambda d: (d / "data_batch_5.bin.xz").unlink(), "data_batch_5.bin", "missing"),
    "unreadable file": (lambda d: ((d / "data_batch_3.bin.xz").unlink(), (d / "data_batch_3.bin").mkdir()),
                        "data_batch_3.bin", ""),
}


@pytest.mark.parametrize("case", sorted(CIFAR_CASES))
def test_broken_cifar_files(cifar_dir, case):
    mutate, name, text = CIFAR_CASES[case]
    mutate(cifar_dir)
    with pytest.raises(DataError) as info:
        cifar10.load(cifar_dir)
    assert name in str(info.value) and text in str(info.value)


def test_corrupt_archives_name_the_file_and_leave_nothing(tmp_path):
    bad = tmp_path / "cifar-10-binary.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00" + b"not really gzip" * 100)
    with pytest.raises(DataError, match="cifar-10-binary.tar.gz"):
        cifar10.load(bad)
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="cifar-10-binary.tar.gz"):
        fetch("cifar10", dest=cache / "cifar10", source=bad)
    assert not cache.exists() or not any(cache.rglob("*.bin"))


def test_invalid_settings_name_the_setting(usdata, cifar):
    data = fc.load(usdata, cities=list(CITIES))
    with pytest.raises(ConfigError, match="batch_size"):
        fc.ForecastConfig(batch_size=0).validated()
    with pytest.raises(ConfigError, match="batch_size: 10000000 is larger than"):
        fc.Trainer(fc.ForecastConfig(batch_size=10_000_000, epochs=1, device="cpu", width=8, depth=1)).fit(data)
    with pytest.raises(ConfigError, match="batch_size"):
        cifar10.Cifar10Config(batch_size=0).validated()
    with pytest.raises(ConfigError, match="NAIRRCORE_LR"):
        fc.ForecastConfig.from_env(environ={"NAIRRCORE_LR": "fast"})
    with pytest.raises(ConfigError, match="lr"):
        fc.ForecastConfig(lr=-1.0).validated()
    with pytest.raises(ConfigError, match="unknown platform 'moon'"):
        check_platform("moon")
    with pytest.raises(ConfigError, match="device"):
        fc.ForecastConfig(device="tpu").resolve_device()
    with pytest.raises(ConfigError, match="precision"):
        cifar10.Cifar10Config(precision="fp8").validated()
