"""One source of settings per workload: every field of the C++ settings
objects (found by introspection, so a field added in C++ is seen) has a
Python setting of the same name, and a run's run_config.json records the
value the core received equal to the setting's value. Only the fields
listed in DERIVED come from elsewhere (the data, the resolved device)."""

from __future__ import annotations

import json

import pytest

from nairrcore import cifar10, forecasting as fc
from nairrcore._native import core
from nairrcore.evidence import RunRecorder
from nairrcore.settings import core_fields, to_core

# core field -> where its value comes from when it is not the setting of the same name
DERIVED = {
    "forecasting": {"model.inputs": "the data's feature count", "model.outputs": "the three targets",
                    "fit.device": "resolved device", "fit.precision": "resolved precision",
                    "fit.data_on_device": "resolved: data_on_device, or whether the rows fit"},
    "cifar10": {"model.name": "model", "model.classes": "the data set's classes",
                "fit.device": "resolved device", "fit.precision": "resolved precision",
                "fit.data_on_device": "resolved: data_on_device (None: yes)",
                "fit.tta_translate": "tta and the recipe's tta_translate",
                "fit.augment.mean": "normalize_mean", "fit.augment.std": "normalize_std"},
}
CORE_CLASSES = {"forecasting": {"model": core.MlpConfig, "fit": core.FitConfig},
                "cifar10": {"model": core.ImageModelConfig, "fit": core.ImageFitConfig}}


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _fields(cls) -> set[str]:
    return {k for k, v in vars(cls).items() if isinstance(v, property)}


@pytest.fixture(scope="module")
def recorded(weather_dir, cifar, tmp_path_factory):
    out = {}
    for workload, config, data in [
        ("forecasting", fc.WORKLOAD.config(data=str(weather_dir), cities=2, width=16, depth=1, device="cpu"), None),
        ("cifar10", cifar10.WORKLOAD.config(model="fastnet", widths=(8, 16, 16), device="cpu"), cifar.limited(100, 50)),
    ]:
        wl = fc.WORKLOAD if workload == "forecasting" else cifar10.WORKLOAD
        data = data if data is not None else wl.load_data(config)
        trainer = wl.trainer(config, data)
        rec = RunRecorder(tmp_path_factory.mktemp(workload) / "run", workload)
        rec.trainer(trainer, data)
        rec.finish("failed", error="not trained: settings only")
        out[workload] = (config, json.loads((rec.run_dir / "run_config.json").read_text()))
    return out


@pytest.mark.parametrize("workload", ["forecasting", "cifar10"])
def test_every_core_field_is_a_recorded_setting_of_the_same_value(recorded, workload):
    config, run_config = recorded[workload]
    received = _flatten(run_config["core"])
    settings = run_config["config"]
    # the recorded core settings are every field the bindings expose
    for part, cls in CORE_CLASSES[workload].items():
        assert {k for k in received if k.startswith(part + ".") and k.count(".") == 1} >= \
            {f"{part}.{f}" for f in _fields(cls) if f != "augment"}
    derived = DERIVED[workload]
    for key, value in received.items():
        if key in derived:
            continue
        name = key.rsplit(".", 1)[-1]
        assert name in settings, f"{key} reaches the core but is no {type(config).__name__} setting"
        expected = settings[name]
        if isinstance(value, list):
            expected = list(expected)
        assert value == pytest.approx(expected), f"{key}: core received {value!r}, the setting says {expected!r}"
    assert set(run_config["config"]) == set(type(config).names())  # every setting recorded


# setting -> where it goes when no core field of its name takes it
ELSEWHERE = {
    "forecasting": {"data": "the reader", "cities": "the reader", "city_ids": "the reader",
                    "lags": "the feature builder", "windows": "the feature builder", "threads": "the reader",
                    "in_memory": "the reader"},
    "cifar10": {"data": "the reader", "train_limit": "the reader", "test_limit": "the reader",
                "val_size": "the validation split", "model": "model.name",
                "normalize_mean": "fit.augment.mean", "normalize_std": "fit.augment.std"},
}


@pytest.mark.parametrize("workload", ["forecasting", "cifar10"])
def test_every_setting_reaches_the_core_or_says_where_it_goes(recorded, workload):
    config, run_config = recorded[workload]
    taken = {key.rsplit(".", 1)[-1] for key in _flatten(run_config["core"])}
    untaken = set(type(config).names()) - taken - set(ELSEWHERE[workload])
    assert not untaken, f"{sorted(untaken)}: no core field of that name, and no entry in ELSEWHERE"


def test_the_core_takes_its_values_only_from_the_settings():
    # the C++ structs have no defaults: a field Python does not supply is refused here, not zero there
    settings = fc.ForecastConfig().as_dict()
    del settings["dropout"]  # as if the C++ side had gained a field no setting supplies
    with pytest.raises(TypeError, match="MlpConfig.dropout: no setting or derived value supplies it"):
        to_core(core.MlpConfig, settings, {"inputs": 37, "outputs": 3})
    trainer = cifar10.Trainer(cifar10.Cifar10Config(model="resnet18", device="cpu"))
    assert trainer.core_settings()["fit"]["lr"] == cifar10.RECIPES["resnet18"]["lr"] == 0.4
    assert trainer.core_settings()["fit"]["nesterov"] is True
    untouched = core_fields(core.FitConfig())  # what the core holds before Python fills it: zeros
    assert all(not v for v in untouched.values()), untouched
