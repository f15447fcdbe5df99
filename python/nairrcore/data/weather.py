"""The 210-city weather data set read into feature tensors (the C++ core
parses the files and builds features, targets, splits and scaling)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch

from nairrcore._native import core as _core
from nairrcore.data.fetch import DATASETS, fetch
from nairrcore.data.fingerprint import fingerprint_blobs, fingerprint_files
from nairrcore.errors import ConfigError, DataError
from nairrcore.files import archive_members

TARGETS = ("tmax", "tmin", "prcp")

_EPOCH = _dt.date(1970, 1, 1)


def _days(date: str | _dt.date) -> int:
    d = _dt.date.fromisoformat(date) if isinstance(date, str) else date
    return (d - _EPOCH).days


@dataclass(frozen=True)
class Split:
    """Rows of one split, city by city (sorted ID), then by date. It carries
    the city list, so a split can be evaluated per city on its own."""

    x: torch.Tensor     # [n, F] float32, standardised with train statistics
    y: torch.Tensor     # [n, 3] float32, next-day tmax (°F), tmin (°F), prcp (in)
    city: torch.Tensor  # [n] int64, index into cities
    day: torch.Tensor   # [n] int32, days since 1970-01-01 of the feature row
    cities: tuple[dict, ...] = ()
    targets: tuple[str, ...] = TARGETS

    def __len__(self) -> int:
        return self.x.shape[0]

    def dates(self) -> list[_dt.date]:
        return [_EPOCH + _dt.timedelta(days=int(d)) for d in self.day.tolist()]


@dataclass
class ForecastData:
    train: Split
    val: Split
    test: Split
    cities: list[dict]
    feature_names: list[str]
    mean: torch.Tensor          # [F] float64, fitted on train
    scale: torch.Tensor         # [F] float64, population std
    files: list[str]
    raw_rows: list[int]
    usable_rows: list[int]
    prep_seconds: float
    source: str
    targets: tuple[str, ...] = TARGETS
    read_bytes: int = 0        # in-memory reads: bytes decompressed from the archive
    read_seconds: float = 0.0
    _fingerprint: dict | None = field(default=None, repr=False)

    @property
    def num_features(self) -> int:
        return len(self.feature_names)

    @cached_property
    def fingerprint(self) -> dict:
        """Content hash of every file read and the row counts (computed on first use)."""
        fp = dict(self._fingerprint) if self._fingerprint else fingerprint_files(self.files)
        fp.update(
            cities=len(self.cities),
            raw_rows=sum(self.raw_rows),
            rows={"train": len(self.train), "val": len(self.val), "test": len(self.test)},
        )
        return fp

    def model_info(self) -> dict:
        """What a saved model needs to be used on new rows: feature names, scaler, targets."""
        return {"feature_names": self.feature_names, "mean": self.mean, "scale": self.scale,
                "targets": list(self.targets)}

    def cities_without_rows(self, split: str) -> list[str]:
        """Names of the cities with no usable row in a split (a gap in their
        series, or records that end before it): per-city metrics skip them."""
        present = set(getattr(self, split).city.unique().tolist())
        return [c["name"] for i, c in enumerate(self.cities) if i not in present]

    def persistence(self, split: str) -> torch.Tensor | None:
        """The forecast "tomorrow equals today" for each row of a split, [n, 3]
        float64 in original units: the day's own values, rebuilt from its lag-1
        and first-difference features (x[t-1] + (x[t] - x[t-1])). None when lag 1
        is not among the features."""
        names = self.feature_names
        try:
            lag1 = [names.index(f"{t}_lag1") for t in self.targets]
            diff1 = [names.index(f"{t}_diff1") for t in self.targets]
        except ValueError:
            return None
        x = getattr(self, split).x.double()

        def raw(cols):
            return x[:, cols] * self.scale[cols] + self.mean[cols]

        return raw(lag1) + raw(diff1)

    def summary(self) -> dict:
        missing = {s: names for s in ("train", "val", "test") if (names := self.cities_without_rows(s))}
        return {
            "source": self.source,
            "cities": len(self.cities),
            **({"cities_without_rows": missing} if missing else {}),
            "features": self.num_features,
            "rows": {"train": len(self.train), "val": len(self.val), "test": len(self.test)},
            "prep_seconds": round(self.prep_seconds, 3),
            **({"read_mb_per_s": round(self.read_bytes / 1e6 / max(self.read_seconds, 1e-9), 1)}
               if self.read_bytes else {}),
        }


def load(path: str | os.PathLike | None = None, *, cities: int | list[str] | tuple[str, ...] = 210,
         lags: tuple[int, ...] = (1, 3, 7, 14, 30, 60), windows: tuple[int, ...] = (7, 30),
         train_end: str = "2016-12-31", val_end: str = "2019-12-31", threads: int = 0,
         verify: bool = True, in_memory: bool = False) -> ForecastData:
    """Read the city files and build features, targets, splits and scaling in C++.

    ``path``: the extracted ``USdata`` folder, the published archive, or None to
    use (and if needed download) the cached copy. ``cities``: the first N by ID
    (0 or 210 for all) or a list of IDs. ``verify``: check city_info.csv against
    the published checksum (off for a modified copy of the data set).
    ``in_memory``: with an archive ``path``, read its members into memory and
    never extract them (one file opened instead of 211; for parallel file systems).
    """
    if in_memory and path is not None and Path(path).is_file():
        return _load_archive(Path(path), cities, lags, windows, train_end, val_end, threads, verify)
    folder = fetch("weather", source=path, verify=verify) if path is not None else fetch("weather", verify=verify)
    ids, first_n = _city_selection(cities)
    spec = _feature_spec(lags, windows, train_end, val_end)
    t0 = time.perf_counter()
    selected = _core.select_cities(str(folder), ids, first_n)
    raw = _core.build_weather_dataset(str(folder), selected, spec, threads)
    return _data(raw, time.perf_counter() - t0, str(Path(folder).resolve()))


def _city_selection(cities) -> tuple[list[str], int]:
    if isinstance(cities, int):
        if not 0 <= cities <= 210:
            raise ConfigError(f"cities: expected a count of 0..210 (0: all) or a list of city IDs, got {cities}")
        return [], cities
    if not list(cities):
        raise ConfigError("cities: expected a count or a non-empty list of city IDs")
    return list(cities), 0


def _feature_spec(lags, windows, train_end, val_end) -> "_core.FeatureSpec":
    spec = _core.FeatureSpec()
    spec.lags = list(lags)
    spec.windows = list(windows)
    spec.train_end = _days(train_end)
    spec.val_end = _days(val_end)
    return spec


def _data(raw, prep: float, source: str, **extra) -> ForecastData:
    cities = [{"id": c.id, "name": c.name, "lat": c.lat, "lon": c.lon} for c in raw.cities]
    split = lambda s: Split(s.x, s.y, s.city, s.day, tuple(cities))  # noqa: E731
    return ForecastData(
        train=split(raw.train), val=split(raw.val), test=split(raw.test), cities=cities,
        feature_names=list(raw.feature_names), mean=raw.mean, scale=raw.scale,
        files=list(raw.files), raw_rows=list(raw.raw_rows), usable_rows=list(raw.usable_rows),
        prep_seconds=prep, source=source, **extra,
    )


def _load_archive(archive: Path, cities, lags, windows, train_end, val_end, threads, verify) -> ForecastData:
    """Features straight from the published archive's members, held in memory."""
    t0 = time.perf_counter()
    contents = archive_members(archive, lambda name: name.endswith(".csv"))
    if "city_info.csv" not in contents:
        raise DataError(f"{archive}: has no city_info.csv; not the weather data set")
    expected = DATASETS["weather"].content_sha256["city_info.csv"]
    if verify and hashlib.sha256(contents["city_info.csv"]).hexdigest() != expected:
        raise DataError(f"{archive}:city_info.csv: sha256 does not match the published {expected}")
    read_sec = time.perf_counter() - t0
    ids, first_n = _city_selection(cities)
    spec = _feature_spec(lags, windows, train_end, val_end)
    selected = _core.select_cities_in_memory(str(archive), contents, ids, first_n)
    raw = _core.build_weather_dataset_in_memory(str(archive), contents, selected, spec, threads)
    used = ["city_info.csv"] + [f"{c.id}.csv" for c in selected]
    fp = fingerprint_blobs([(name, contents[name]) for name in used])
    return _data(raw, time.perf_counter() - t0, str(archive.resolve()), read_bytes=sum(map(len, contents.values())),
                 read_seconds=read_sec, _fingerprint=fp)


__all__ = ["ForecastData", "Split", "TARGETS", "load"]
