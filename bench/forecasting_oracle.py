"""The forecasting spec written plainly in pandas: the oracle the C++ features
are checked against, and the reference pipeline the benchmark compares with
(the duplicate-row defect of the published notebook fixed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

VARS = ["tmax", "tmin", "prcp"]


def feature_names(lags=(1, 3, 7, 14, 30, 60), windows=(7, 30)) -> list[str]:
    names = ["lat", "lon", "sin_doy", "cos_doy"]
    names += [f"{v}_lag{lag}" for lag in lags for v in VARS]
    names += [f"{v}_diff1" for v in VARS]
    names += [f"{v}_mean{w}" for w in windows for v in VARS]
    names += [f"{v}_std{w}" for w in windows for v in VARS]
    return names


def city_frame(folder: Path, city_id: str, lat: float, lon: float, lags, windows) -> pd.DataFrame:
    df = pd.read_csv(folder / f"{city_id}.csv", na_values=["NA"], parse_dates=["Date"])
    df = df.sort_values("Date").reset_index(drop=True)
    out = pd.DataFrame({"Date": df["Date"], "lat": lat, "lon": lon})
    doy = df["Date"].dt.day_of_year
    out["sin_doy"] = np.sin(2 * np.pi * doy / 365.25)
    out["cos_doy"] = np.cos(2 * np.pi * doy / 365.25)
    for lag in lags:
        for v in VARS:
            out[f"{v}_lag{lag}"] = df[v].shift(lag)
    for v in VARS:
        out[f"{v}_diff1"] = df[v] - df[v].shift(1)
    shifted = df[VARS].shift(1)
    for w in windows:
        for v in VARS:
            out[f"{v}_mean{w}"] = shifted[v].rolling(w).mean()
    for w in windows:
        for v in VARS:
            out[f"{v}_std{w}"] = shifted[v].rolling(w).std()
    for v in VARS:
        out[f"target_{v}"] = df[v].shift(-1)
        out[f"today_{v}"] = df[v]  # the persistence forecast
    out["city_id"] = city_id
    return out.dropna().reset_index(drop=True)


def build(folder: Path, n_cities: int, lags=(1, 3, 7, 14, 30, 60), windows=(7, 30)) -> dict:
    info = pd.read_csv(folder / "city_info.csv")
    info = info.drop_duplicates("ID").sort_values("ID").head(n_cities)  # the dedup fix
    frames = [city_frame(folder, r.ID, r.Lat, r.Lon, lags, windows) for r in info.itertuples()]
    df = pd.concat(frames, ignore_index=True)
    names = feature_names(lags, windows)
    train = df[df["Date"] <= "2016-12-31"]
    val = df[(df["Date"] > "2016-12-31") & (df["Date"] <= "2019-12-31")]
    test = df[df["Date"] > "2019-12-31"]
    mean = train[names].mean()
    std = train[names].std(ddof=0).replace(0, 1)
    out = {}
    for name, part in [("train", train), ("val", val), ("test", test)]:
        out[name] = {
            "x": ((part[names] - mean) / std).to_numpy(np.float64),
            "y": part[[f"target_{v}" for v in VARS]].to_numpy(np.float64),
            "today": part[[f"today_{v}" for v in VARS]].to_numpy(np.float64),
            "date": part["Date"].to_numpy(),
            "city": part["city_id"].to_numpy(),
        }
    out["mean"], out["std"], out["names"] = mean.to_numpy(), std.to_numpy(), names
    return out
