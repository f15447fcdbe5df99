"""The Workload interface, as every workload must implement it: the two
built-in ones and the example in notebooks/ (built only on the public API)."""

from __future__ import annotations

import importlib
import math
import sys

import pytest
import torch

import nairrcore
from nairrcore import cifar10, forecasting as fc
from nairrcore.errors import ConfigError
from nairrcore.workload import WORKLOADS, Workload, get

from conftest import CIFAR_DIR, REPO

sys.path.insert(0, str(REPO / "notebooks"))
importlib.import_module("example_regression")  # notebooks/example_regression.py: a user's own workload


def _tiny(name: str, weather_dir) -> dict:
    return {"forecasting": dict(data=str(weather_dir), cities=2, width=16, depth=1, epochs=1, batch_size=512,
                                device="cpu"),
            "cifar10": dict(data=str(CIFAR_DIR), model="fastnet", widths=(8, 16, 16), train_limit=1200, val_size=200, test_limit=300,
                            epochs=1, batch_size=250, device="cpu"),
            "example_regression": dict(rows=4000, epochs=2, batch_size=256, device="cpu")}[name]


@pytest.mark.parametrize("name", ["forecasting", "cifar10", "example_regression"])
def test_workload_conformance(name, weather_dir, tmp_path):
    workload = get(name)
    assert isinstance(workload, Workload) and workload.name == name and WORKLOADS[name] is workload
    assert workload.headline.name and isinstance(workload.headline.lower_is_better, bool)
    # settings: defaults, environment, overrides; an unknown name suggests the close one
    config = workload.config(environ={"NAIRRCORE_SEED": "7"}, **_tiny(name, weather_dir))
    assert isinstance(config, workload.settings) and config.seed == 7
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        workload.config(epoch=1)
    assert {d["name"] for d in workload.settings.describe()} == set(workload.settings.names())
    # data
    data = workload.load_data(config)
    assert len(data.train) > 0 and len(data.test) > 0
    assert len(data.fingerprint["sha256"]) == 64 and isinstance(data.summary(), dict)
    # trainer
    trainer = workload.trainer(config, data)
    assert isinstance(trainer.core_settings(), dict) and trainer.precision == "fp32"
    history = trainer.fit(data)
    assert len(history) == config.epochs and all(math.isfinite(h["train_loss"]) for h in history)
    assert {"epoch", "train_loss", "val_loss", "train_sec", "val_sec", "samples_per_sec"} <= set(history[0])
    metrics = workload.test_metrics(trainer, data)
    h = metrics["headline"]
    assert h["name"] == workload.headline.name and h["lower_is_better"] == workload.headline.lower_is_better
    assert math.isfinite(h["value"])
    # save and reload
    x = data.test.x if hasattr(data.test, "x") else data.test.images
    path = trainer.save(tmp_path / "model.pt")
    again = workload.load_model(path)
    assert torch.equal(again.predict(x[:20]), trainer.predict(x[:20]))


def test_the_example_uses_only_the_public_api():
    source = (REPO / "notebooks" / "example_regression.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all(" nairrcore._" not in line and "nairrcore._native" not in line for line in imports)
    public = set(nairrcore.__all__) | {"training"}
    for line in imports:
        if line.startswith("from nairrcore import"):
            assert set(line.split("import", 1)[1].replace(" ", "").split(",")) <= public, line


def test_an_unknown_workload_names_the_known_ones():
    with pytest.raises(ConfigError, match="unknown workload 'forecast'.*did you mean 'forecasting'"):
        get("forecast")
    assert {"forecasting", "cifar10"} <= set(WORKLOADS) and fc.WORKLOAD is get("forecasting")
    assert cifar10.WORKLOAD is get("cifar10")


def test_a_workload_file_named_like_an_imported_module_replaces_nothing(tmp_path):
    stdlib_json = sys.modules["json"]
    (tmp_path / "json.py").write_text("REGISTERS = 0\n")
    with pytest.raises(ConfigError, match="registers 0 workloads"):
        get(str(tmp_path / "json.py"))
    assert sys.modules["json"] is stdlib_json
