"""A metric over nothing is never a score: every workload's evaluate on a
split with no rows or images gives NaN with a note (never 0, a perfect
error, or 100%), a class or city without rows is NaN or listed, the run's
test metrics refuse such a split with a DataError, and reports do not rank
a NaN headline and say why."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

import pytest
import torch

from nairrcore import ModelSettings, ModelTrainer, cifar10, forecasting as fc
from nairrcore.errors import DataError
from nairrcore.jobs.sweep import summarize
from nairrcore.reports.compare import compare
from nairrcore.training import TensorSplit

from conftest import REPO


def _numbers(metrics: dict):
    """Every number in an evaluate result, however nested (counts left out)."""
    for key, value in metrics.items():
        if key in ("rows", "samples", "confusion", "predicted"):
            continue
        if isinstance(value, dict):
            yield from _numbers(value)
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, float))
        elif isinstance(value, float):
            yield value


def _cut(split, n: int):
    return dataclasses.replace(split, x=split.x[:n], y=split.y[:n], city=split.city[:n], day=split.day[:n])


def test_forecasting_over_no_rows_is_nan_with_a_note_and_the_run_is_refused(small_data):
    trainer = fc.WORKLOAD.trainer(fc.ForecastConfig(width=16, depth=1, epochs=1, device="cpu"), small_data)
    m = trainer.evaluate(_cut(small_data.test, 0))
    assert m["rows"] == 0 and "note" in m and all(math.isnan(v) for v in _numbers(m))
    some = trainer.evaluate(_cut(small_data.test, 5))  # five rows of the first city: the others are listed
    assert all(math.isfinite(v) for v in _numbers(some)) and len(some["cities_without_rows"]) == 2
    empty = dataclasses.replace(small_data, test=_cut(small_data.test, 0))
    with pytest.raises(DataError, match="test split: no rows in this split"):
        fc.WORKLOAD.test_metrics(trainer, empty)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_a_model_of_your_own_over_no_rows_is_nan(loss):
    x, y = torch.randn(64, 4), (torch.randint(0, 3, (64,)) if loss == "cross_entropy" else torch.randn(64, 2))
    model = torch.nn.Linear(4, 3 if loss == "cross_entropy" else 2)
    trainer = ModelTrainer(model, ModelSettings(epochs=1, loss=loss, device="cpu"))
    m = trainer.evaluate(TensorSplit(x[:0], y[:0]))
    assert m["rows"] == 0 and "note" in m and all(math.isnan(v) for v in _numbers(m))
    assert all(math.isfinite(v) for v in _numbers(trainer.evaluate(TensorSplit(x, y))))


def test_cifar10_over_no_images_and_classes_without_images_are_nan(cifar):
    config = cifar10.Cifar10Config(model="fastnet", widths=(8, 8, 8), epochs=1, batch_size=64, device="cpu")
    trainer = cifar10.WORKLOAD.trainer(config, cifar)
    m = trainer.evaluate(cifar.test.take(torch.arange(0)))
    assert m["samples"] == 0 and "note" in m and all(math.isnan(v) for v in _numbers(m))
    only_cats = cifar.test.take((cifar.test.labels == 3).nonzero().flatten()[:20])
    per_class = trainer.evaluate(only_cats)["per_class_accuracy"]
    assert not math.isnan(per_class["cat"]) and all(math.isnan(v) for k, v in per_class.items() if k != "cat")


def test_reports_never_rank_a_nan_headline_and_say_why(tmp_path):
    examples = sorted((REPO / "outputs" / "examples" / "laptop" / "forecasting").iterdir())
    runs = []
    for name, source in zip("ab", examples):
        dest = tmp_path / "laptop" / "forecasting" / name
        shutil.copytree(source, dest)
        runs.append(dest)
    metrics = json.loads((runs[1] / "test_metrics.json").read_text())
    metrics["headline"]["value"] = float("nan")
    (runs[1] / "test_metrics.json").write_text(json.dumps(metrics))
    row = compare(runs, "laptop", plots=False)[0]
    good = json.loads((runs[0] / "test_metrics.json").read_text())["headline"]["value"]
    assert row["metric_value"] == good and "headline mae_tmax is undefined" in row["note"]
    left_out: list[str] = []
    ranked = summarize(runs, tmp_path / "summary", left_out=left_out)
    assert [r["run"] for r in ranked] == ["a"] and any("not ranked" in n for n in left_out)
    assert "Left out:" in (tmp_path / "summary" / "sweep.md").read_text()
