"""C++ features, targets and splits against the pandas oracle on 20 real cities."""

import numpy as np
import pytest

from nairrcore import forecasting as fc

from conftest import bench_module

build = bench_module("forecasting_oracle").build

N_CITIES = 20


@pytest.fixture(scope="module")
def both(weather_dir):
    return fc.load(weather_dir, cities=N_CITIES), build(weather_dir, N_CITIES)


def test_feature_names_and_count(both):
    ours, ref = both
    assert ours.feature_names == ref["names"]
    assert ours.num_features == 37


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_rows_features_targets_match(both, split):
    ours, ref = both
    mine, theirs = getattr(ours, split), ref[split]
    assert len(mine) == len(theirs["y"]) > 0
    dates = np.array(mine.day.numpy(), dtype="datetime64[D]")
    np.testing.assert_array_equal(dates, theirs["date"].astype("datetime64[D]"))
    ids = np.array([ours.cities[i]["id"] for i in mine.city.tolist()])
    np.testing.assert_array_equal(ids, theirs["city"])
    np.testing.assert_allclose(mine.y.numpy(), theirs["y"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(mine.x.numpy(), theirs["x"], rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize("split", ["val", "test"])
def test_persistence_is_the_days_own_values(both, split):
    ours, ref = both
    today = ours.persistence(split).numpy()
    np.testing.assert_allclose(today, ref[split]["today"], rtol=0, atol=1e-3)
    mae = np.abs(ref[split]["today"] - ref[split]["y"]).mean(0)
    assert (mae > 0).all() and mae[0] < 10  # next-day tmax stays within a few °F of today's


def test_no_persistence_without_lag_one(weather_dir):
    assert fc.load(weather_dir, cities=2, lags=(3, 7)).persistence("test") is None


def test_scaler_is_fitted_on_train(both):
    ours, ref = both
    np.testing.assert_allclose(ours.mean.numpy(), ref["mean"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.scale.numpy(), ref["std"], rtol=1e-5)


def test_fingerprint_counts(both):
    ours, _ = both
    fp = ours.fingerprint
    assert fp["files"] == N_CITIES + 1
    assert fp["rows"]["train"] == len(ours.train)
    assert len(fp["sha256"]) == 64
