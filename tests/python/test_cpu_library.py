"""The CPU matrix library is chosen per processor by measurement, cached per
processor, overridable, and recorded with every CPU run."""

from __future__ import annotations

import json

import pytest

import nairrcore
from nairrcore.errors import ConfigError
from nairrcore.settings import CPU_MATMUL_LIBRARIES, RunOptions
from nairrcore.training import cpu_library


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NAIRRCORE_CACHE", str(tmp_path / "data"))
    return tmp_path / "cpu-matmul.json"


def test_the_faster_library_is_chosen_and_cached_for_this_processor(cache):
    before = nairrcore.cpu_matmul()
    first = cpu_library.choose()
    assert nairrcore.cpu_matmul() == before  # measuring leaves the library in use alone
    gflops = first["gflops"]
    assert set(gflops) == {"onednn", "blas"} and min(gflops.values()) > 0
    assert first["library"] == max(gflops, key=gflops.get) and first["why"] == "measured on this processor"
    [entry] = json.loads(cache.read_text()).values()
    assert entry["processor"] == cpu_library.processor() and entry["library"] == first["library"]
    again = cpu_library.choose()
    assert again["library"] == first["library"] and "cached in" in again["why"]


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"x": 1}', '{"k": {"library": "mkl"}}'])
def test_a_damaged_cache_is_measured_again_never_trusted(cache, content):
    cache.write_text(content)
    choice = cpu_library.choose()
    assert choice["why"] == "measured on this processor" and choice["library"] in CPU_MATMUL_LIBRARIES


def test_another_processors_entry_is_not_used(cache):
    first = cpu_library.choose()
    table = json.loads(cache.read_text())
    for entry in table.values():
        entry["processor"] = {**entry["processor"], "model": "0"}  # measured on another model
    cache.write_text(json.dumps(table))
    assert cpu_library.choose()["why"] == "measured on this processor"
    assert first["library"] in CPU_MATMUL_LIBRARIES


def test_the_environment_overrides_and_is_checked(cache):
    library = RunOptions.from_env({"NAIRRCORE_CPU_MATMUL": "blas"}).cpu_matmul
    assert cpu_library.choose(library) == {"library": "blas",
                                           "why": "set by RunOptions.cpu_matmul (NAIRRCORE_CPU_MATMUL)"}
    with pytest.raises(ConfigError, match="NAIRRCORE_CPU_MATMUL: expected 'onednn', 'blas' or '', got 'mkl'"):
        RunOptions.from_env({"NAIRRCORE_CPU_MATMUL": "mkl"})
    assert not cache.exists()  # nothing measured


def test_a_cpu_run_records_the_library_and_why(tmp_path, weather_dir):
    from nairrcore import forecasting as fc
    from nairrcore.evidence import RunRecorder

    config = fc.WORKLOAD.config(data=str(weather_dir), cities=2, width=16, depth=1, epochs=1, device="cpu")
    data = fc.WORKLOAD.load_data(config)
    trainer = fc.WORKLOAD.trainer(config, data)
    rec = RunRecorder(tmp_path / "run", "forecasting")
    rec.trainer(trainer, data)
    trainer.fit(data, recorder=rec)
    rec.finish("completed")
    recorded = json.loads((rec.run_dir / "run_config.json").read_text())
    choice = recorded["cpu_matmul_choice"]
    assert choice["library"] == recorded["cpu_matmul"] == nairrcore.cpu_matmul() and choice["why"]
    if "gflops" in choice:  # measured (not set by the environment or a caller): for this model's layer
        assert choice["shape"] == [min(config.batch_size, 8192), 16, 16]
