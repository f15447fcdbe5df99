import dataclasses

import pytest
import torch

import nairrcore
from nairrcore import forecasting as fc

SMALL = dict(width=64, depth=2, epochs=2, batch_size=256, lr=3e-3, device="cpu")


def subset(data, n=40000):
    s = data.train
    return dataclasses.replace(data, train=fc.Split(s.x[:n], s.y[:n], s.city[:n], s.day[:n], s.cities))


def test_a_few_hundred_steps_lower_validation_loss(small_data):
    data = subset(small_data)
    trainer = fc.Trainer(fc.ForecastConfig(**SMALL))
    before = trainer.loss(data.val)
    history = trainer.fit(data)
    assert len(history) == 2
    assert history[-1]["val_loss"] < 0.25 * before
    assert all(h["train_sec"] > 0 and h["samples_per_sec"] > 0 for h in history)
    metrics = trainer.evaluate(data.test)
    assert set(metrics["mae"]) == {"tmax", "tmin", "prcp"}
    assert metrics["mae"]["tmax"] < 15
    assert sum(c["rows"] for c in metrics["per_city"]) == len(data.test)


def test_same_seed_same_losses_on_cpu(small_data):
    data = subset(small_data, 20000)
    runs = [fc.Trainer(fc.ForecastConfig(**SMALL)).fit(data) for _ in range(2)]
    assert [h["train_loss"] for h in runs[0]] == [h["train_loss"] for h in runs[1]]
    other = fc.Trainer(fc.ForecastConfig(**{**SMALL, "seed": 7})).fit(data)
    assert [h["train_loss"] for h in other] != [h["train_loss"] for h in runs[0]]


def test_both_cpu_matmul_libraries_train_the_same_model(small_data):
    data = subset(small_data, 20000)
    before = nairrcore.cpu_matmul()
    losses = {}
    for name in ("blas", "onednn"):
        with nairrcore.using_cpu_matmul(name):
            assert nairrcore.cpu_matmul() == name
            losses[name] = [h["train_loss"] for h in fc.Trainer(fc.ForecastConfig(**SMALL)).fit(data)]
    assert nairrcore.cpu_matmul() == before
    # the same fp32 arithmetic in another summation order: equal to rounding, and both learn
    assert losses["onednn"] == pytest.approx(losses["blas"], rel=1e-4)
    assert losses["onednn"][-1] < losses["onednn"][0]
    with pytest.raises(nairrcore.ConfigError, match="'onednn' or 'blas'"):
        nairrcore.set_cpu_matmul("mkl")


def test_cpu_block_cache_does_not_change_the_arithmetic(small_data):
    # batch 4096 x width 128: activations of 2 MiB, which the cache serves when on
    data = subset(small_data, 20000)
    config = fc.ForecastConfig(**{**SMALL, "width": 128, "batch_size": 4096})
    states, losses = {}, {}
    before = nairrcore.cpu_block_cache()
    for enabled in (True, False):
        nairrcore.set_cpu_block_cache(enabled)
        try:
            assert nairrcore.cpu_block_cache() is enabled
            trainer = fc.Trainer(config)
            losses[enabled] = [h["train_loss"] for h in trainer.fit(data)]
            states[enabled] = trainer.state_dict()
        finally:
            nairrcore.set_cpu_block_cache(before)
    assert losses[True] == losses[False]
    assert all(torch.equal(states[True][k], states[False][k]) for k in states[True])


def test_saved_model_reloads_with_the_same_predictions(small_data, tmp_path):
    data = subset(small_data, 5000)
    trainer = fc.Trainer(fc.ForecastConfig(**{**SMALL, "epochs": 1}))
    trainer.fit(data)
    path = trainer.save(tmp_path / "model.pt")  # the scaler and feature names come from the fit
    ours = trainer.predict(data.test.x)
    assert torch.equal(fc.load_model(path).predict(data.test.x), ours)
    model, ckpt = fc.load_torch_module(path)  # plain torch, without the core
    with torch.no_grad():
        theirs = model(data.test.x)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
    assert ckpt["feature_names"] == data.feature_names and torch.equal(ckpt["mean"], data.mean)
    assert not list(tmp_path.glob("*.tmp"))


def test_spec_default_model_size():
    assert fc.Trainer(fc.ForecastConfig(device="cpu")).num_parameters == 7_405_571


def test_config_from_env_and_bad_values():
    cfg = fc.ForecastConfig.from_env(defaults={"epochs": 3}, environ={"NAIRRCORE_EPOCHS": "5", "NAIRRCORE_LAGS": "1,2"})
    assert cfg.epochs == 5 and cfg.lags == (1, 2)
    with pytest.raises(nairrcore.ConfigError, match="NAIRRCORE_WIDTH"):
        fc.ForecastConfig.from_env(environ={"NAIRRCORE_WIDTH": "wide"})
    with pytest.raises(nairrcore.ConfigError, match="dropout"):
        fc.ForecastConfig(dropout=1.5).validated()
    if not torch.cuda.is_available():
        with pytest.raises(nairrcore.ConfigError, match="no CUDA GPU"):
            fc.ForecastConfig(device="cuda").resolve_device()
