"""Reading straight from the published archive (no extraction) gives the same
data set as the extracted folder, and says how fast it read."""

import torch

from nairrcore import forecasting as fc

from conftest import WEATHER_ARCHIVE


def test_weather_from_the_archive_in_memory_equals_the_folder(weather_dir):
    a = fc.load(WEATHER_ARCHIVE, cities=5, in_memory=True)
    b = fc.load(weather_dir, cities=5)
    for name in ("train", "val", "test"):
        sa, sb = getattr(a, name), getattr(b, name)
        assert torch.equal(sa.x, sb.x) and torch.equal(sa.y, sb.y) and torch.equal(sa.day, sb.day)
    assert a.fingerprint["sha256"] == b.fingerprint["sha256"]
    assert a.files[0].endswith("us-210-cities-daily.tar.xz:city_info.csv")
    assert a.summary()["read_mb_per_s"] > 0
