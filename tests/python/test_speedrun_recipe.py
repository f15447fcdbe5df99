"""The current public time-to-94% recipe rebuilt in plain PyTorch
(bench/speedrun_recipe.py): its batched Muon orthogonalises each filter's
update as it would alone, and a short run on the CPU trains and repeats."""

from __future__ import annotations

import sys

import pytest
import torch
from hypothesis import given, settings, strategies as st

from conftest import CIFAR_DIR, REPO

sys.path.insert(0, str(REPO / "bench"))
import speedrun_recipe  # noqa: E402

from nairrcore.data.cifar10 import load  # noqa: E402

# the recipe's filters: [out, in, 3, 3] after the 24-channel whitening
FILTERS = [(64, 24), (64, 64), (256, 64), (256, 256), (256, 256), (256, 256)]


def _padded_cols(shapes) -> int:
    return (max(i * 9 for _, i in shapes) + 15) // 16 * 16


def test_every_filter_update_is_near_orthogonal():
    grads = [torch.randn(o, i, 3, 3) for o, i in FILTERS]
    rows, cols = max(o for o, _ in FILTERS), _padded_cols(FILTERS)
    for g, u in zip(grads, speedrun_recipe.newton_schulz(grads, rows, cols)):
        assert u.shape == g.shape
        sv = torch.linalg.svdvals(u.reshape(len(u), -1))
        assert 0.6 < sv.min() and sv.max() < 1.25, (g.shape, sv.min(), sv.max())  # the quintic's band


@settings(max_examples=40, deadline=None)
@given(shapes=st.lists(st.tuples(st.integers(1, 12), st.integers(1, 8)), min_size=1, max_size=4))
def test_batching_and_padding_change_no_filter_update(shapes):
    grads = [torch.randn(o, i, 3, 3, dtype=torch.float64) for o, i in shapes]
    rows, cols = max(o for o, _ in shapes) + 3, _padded_cols(shapes) + 16  # more padding than needed
    together = speedrun_recipe.newton_schulz(grads, rows, cols)
    for g, u in zip(grads, together):
        alone = speedrun_recipe.newton_schulz([g], len(g), g[0].numel())[0]
        torch.testing.assert_close(u, alone)


@pytest.mark.slow
def test_a_short_cpu_run_trains_and_repeats():
    data = load(CIFAR_DIR)
    train, test = data.train.head(1024), data.test.head(500)
    h = speedrun_recipe.Hyper(train_epochs=2, batch_size=256)
    runs = [speedrun_recipe.train(train.images, train.labels, test.images, test.labels, seed=0,
                                  device=torch.device("cpu"), h=h) for _ in range(2)]
    assert runs[0]["steps"] == 8 and runs[0]["precision"] == "fp32"
    assert runs[0]["accuracy"] > 0.2  # chance is 0.1
    assert runs[0]["accuracy"] == runs[1]["accuracy"]  # same seed, same run
    assert 0 < runs[0]["train_seconds"] < runs[0]["recipe_seconds"]
