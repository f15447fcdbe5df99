"""The benchmark's Python reference of the public fast recipe
(bench/fast_recipe.py) and nairrcore's fast net compute the same function,
and the reference trains: the time-to-94 comparison is like for like."""

from __future__ import annotations

import sys

import pytest
import torch

from conftest import CIFAR_DIR, REPO

sys.path.insert(0, str(REPO / "bench"))
import fast_recipe  # noqa: E402

from nairrcore import cifar10  # noqa: E402


def _reference_to_nairrcore(net: torch.nn.Sequential) -> dict[str, torch.Tensor]:
    # Sequential positions of the recipe: 0 whitening conv, 2-4 conv groups, 7 head
    names = {"0.": "whiten.", "2.": "layer1.", "3.": "layer2.", "4.": "layer3.", "7.": "head."}
    out = {}
    for key, value in net.state_dict().items():
        prefix = next(p for p in names if key.startswith(p))
        out[names[prefix] + key[len(prefix):]] = value.detach().clone()
    return out


def test_fast_net_is_the_recipes_network():
    data = cifar10.load(CIFAR_DIR, train_limit=1, test_limit=64)
    torch.manual_seed(0)
    ref = fast_recipe.make_net(fast_recipe.Hyper(), torch.device("cpu"), torch.float32)
    with torch.no_grad():  # non-trivial BatchNorm statistics and biases
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.bias.uniform_(-0.2, 0.2)
    theirs = _reference_to_nairrcore(ref)
    images = data.test.images
    x = (images.float() / 255 - fast_recipe.CIFAR_MEAN.view(1, 3, 1, 1)) / fast_recipe.CIFAR_STD.view(1, 3, 1, 1)
    x = x.contiguous(memory_format=torch.channels_last)
    # test-time augmentation: none, mirror, mirror + one-pixel translations (the recipe's levels 0-2)
    for level, settings in enumerate([dict(tta=False), dict(tta=True, tta_translate=False),
                                      dict(tta=True, tta_translate=True)]):
        trainer = cifar10.Trainer(cifar10.Cifar10Config(model="fastnet", device="cpu", channels_last=False,
                                                        **settings))
        mine = trainer.state_dict()
        assert {k: tuple(v.shape) for k, v in mine.items()} == {k: tuple(v.shape) for k, v in theirs.items()}
        trainer.load_state_dict(theirs)
        expected = torch.softmax(fast_recipe.infer(ref, x, level), 1)
        torch.testing.assert_close(trainer.predict_proba(images), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # trains a network on real images
def test_reference_recipe_learns_on_real_data():
    data = cifar10.load(CIFAR_DIR, train_limit=8192, test_limit=2000)
    h = fast_recipe.Hyper(train_epochs=1)
    run = fast_recipe.train(data.train.images, data.train.labels, data.test.images, data.test.labels,
                            seed=0, device=torch.device("cpu"), h=h)
    assert run["steps"] == 8 and run["precision"] == "fp32"
    assert run["accuracy"] > 0.2  # chance is 0.1
