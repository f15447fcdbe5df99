"""CIFAR-10 workload on the real data: reader, augmentation, training."""

from __future__ import annotations

import lzma
import math
import tarfile

import pytest
import torch

import nairrcore
from nairrcore import cifar10
from nairrcore._native import core
from nairrcore.data.cifar10 import read_blobs
from nairrcore.errors import ConfigError, DataError
from nairrcore.loaders import augment_spec

from conftest import CIFAR_DIR


def test_reader_known_records_and_class_counts(cifar):
    assert cifar.train.labels[0] == 6
    assert cifar.train.images[0, 0, 0, :4].tolist() == [59, 43, 50, 68]  # red plane, first row
    assert cifar.train.images.shape == (50000, 3, 32, 32) and cifar.train.images.dtype == torch.uint8
    assert torch.bincount(cifar.train.labels).tolist() == [5000] * 10
    assert torch.bincount(cifar.test.labels).tolist() == [1000] * 10
    assert cifar.fingerprint["train_samples"] == 50000 and cifar.fingerprint["files"] == 6


def test_reader_takes_the_official_archive_layout(tmp_path, cifar):
    raw = lzma.open(CIFAR_DIR / "test_batch.bin.xz").read()
    member = tmp_path / "cifar-10-batches-bin" / "test_batch.bin"
    member.parent.mkdir()
    member.write_bytes(raw)
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as t:
        t.add(member.parent, arcname="cifar-10-batches-bin")
    [(name, blob)] = read_blobs(archive, ("test_batch.bin",))
    images, labels = core.parse_cifar([(name, blob)])
    assert torch.equal(images, cifar.test.images) and torch.equal(labels, cifar.test.labels)
    [(_, from_folder)] = read_blobs(tmp_path, ("test_batch.bin",))  # extracted folder, one level down
    assert from_folder == raw


def test_reader_reports_truncated_and_corrupt_files(tmp_path):
    raw = lzma.open(CIFAR_DIR / "data_batch_1.bin.xz").read()
    (tmp_path / "test_batch.bin").write_bytes(raw[:3073 * 10 + 7])
    [(name, blob)] = read_blobs(tmp_path, ("test_batch.bin",))
    with pytest.raises(DataError, match=r"test_batch\.bin.*not a whole number"):
        core.parse_cifar([(name, blob)])
    bad = bytearray(raw[:3073 * 3])
    bad[3073 * 2] = 11
    with pytest.raises(DataError, match=r"x\.bin: record 2 has label 11"):
        core.parse_cifar([("x.bin", bytes(bad))])
    (tmp_path / "data_batch_1.bin.xz").write_bytes(lzma.compress(raw[:100000])[:5000])
    with pytest.raises(DataError, match=r"data_batch_1\.bin\.xz: corrupt or truncated"):
        read_blobs(tmp_path, ("data_batch_1.bin",))
    with pytest.raises(DataError, match="missing data_batch_2.bin"):
        read_blobs(tmp_path, ("data_batch_2.bin",))


def _padded_window(images, params, spec_pad, k, reflect):
    mode = "reflect" if reflect else "constant"
    img = torch.nn.functional.pad(images[k:k + 1].float(), [spec_pad] * 4, mode=mode)[0]
    dx, dy, flip = (int(v) for v in params[k, :3])
    win = img[:, dy:dy + 32, dx:dx + 32]
    return win.flip(2) if flip else win


@pytest.mark.parametrize("reflect", [True, False])
def test_crops_are_windows_of_the_padded_image_and_flips_mirror(cifar, reflect):
    images = cifar.train.images[:64]
    spec = augment_spec(pad=4, reflect=reflect)
    params = core.draw_augment_params(spec, 64, 5, 0)
    out = core.augment_host(images, torch.arange(64), params, spec)
    mean = torch.tensor(spec.mean).view(3, 1, 1) * 255
    std = torch.tensor(spec.std).view(3, 1, 1) * 255
    for k in range(64):
        expected = (_padded_window(images, params, 4, k, reflect) - mean) / std
        torch.testing.assert_close(out[k], expected, rtol=0, atol=1e-5)


def test_augmentation_is_seeded_and_uniform():
    spec = augment_spec(pad=4, cutout=8)
    a = core.draw_augment_params(spec, 50000, 42, 3)
    assert torch.equal(a, core.draw_augment_params(spec, 50000, 42, 3))
    assert not torch.equal(a, core.draw_augment_params(spec, 50000, 42, 4))
    # Pearson chi-square against the uniform distribution, 0.1% critical values.
    critical = {9: 26.12, 2: 10.83, 32: 56.89}  # chi2.ppf(0.999, k - 1)
    for column, k in [(0, 9), (1, 9), (2, 2), (3, 32), (4, 32)]:
        counts = torch.bincount(a[:, column].long(), minlength=k).double()
        assert counts.numel() == k
        expected = 50000 / k
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert chi2 < critical[k], (column, chi2)


def test_alternating_flips_turn_every_image_each_epoch():
    spec = augment_spec(pad=2, alternate_flip=True)
    epochs = [core.draw_augment_params(spec, 50000, 42, e) for e in range(4)]
    flips = [p[:, 2] for p in epochs]
    assert torch.equal(flips[0], flips[2]) and torch.equal(flips[1], flips[3])
    assert torch.equal(flips[1], 1 - flips[0])          # every image the other way on odd epochs
    assert abs(flips[0].double().mean().item() - 0.5) < 0.01  # 50,000 coins: 4.5 sigma
    assert not torch.equal(flips[0], core.draw_augment_params(spec, 50000, 43, 0)[:, 2])
    plain = core.draw_augment_params(augment_spec(pad=2), 50000, 42, 1)
    assert torch.equal(epochs[1][:, [0, 1, 3, 4]], plain[:, [0, 1, 3, 4]])  # crops are unchanged


def test_image_loader_batches_depend_only_on_seed_and_epoch(cifar):
    def first_batch(seed, epoch, workers):
        loader = nairrcore.ImageLoader(cifar.train.images[:2000], cifar.train.labels[:2000], batch_size=256,
                                       seed=seed, workers=workers)
        loader.set_epoch(epoch)
        return next(iter(loader))

    x0, y0 = first_batch(1, 0, 2)
    x1, y1 = first_batch(1, 0, 0)
    assert torch.equal(x0, x1) and torch.equal(y0, y1)
    x2, _ = first_batch(1, 1, 2)
    assert not torch.equal(x0, x2)
    loader = nairrcore.ImageLoader(cifar.train.images[:1000], cifar.train.labels[:1000], batch_size=100, seed=3)
    loader.set_epoch(0)
    seen = torch.cat([y for _, y in loader])
    assert seen.numel() == 1000 and len(loader) == 10


def _small(**kw):
    base = dict(model="fastnet", widths=(32, 64, 64), epochs=3, batch_size=250, device="cpu", workers=2)
    base.update(kw)
    return cifar10.Cifar10Config(**base)


@pytest.mark.slow  # trains a network on real images
def test_short_cpu_training_beats_chance_and_is_deterministic(cifar, tmp_path):
    data = cifar.limited(4000, 1000)
    a = cifar10.Trainer(_small())
    history = a.fit(data)
    assert "val_accuracy" not in history[-1] and history[-1]["val_samples"] == 0  # the recipe holds none out
    assert a.evaluate(data.test)["accuracy"] > 0.3  # chance is 0.10
    b = cifar10.Trainer(_small())
    assert [h["train_loss"] for h in b.fit(data)] == [h["train_loss"] for h in history]
    path = a.save(tmp_path / "model.pt")
    restored = cifar10.load_model(path)
    assert torch.equal(restored.predict_proba(data.test.images[:50]), a.predict_proba(data.test.images[:50]))


def test_validation_is_held_out_of_the_training_images_by_seed(cifar):
    data = cifar.limited(4000, 1000, val_size=500, seed=7)
    assert (len(data.train), len(data.val), len(data.test)) == (3500, 500, 1000)
    again = cifar.limited(4000, 1000, val_size=500, seed=7)
    assert torch.equal(data.val.images, again.val.images)
    other = cifar.limited(4000, 1000, val_size=500, seed=8)
    assert not torch.equal(data.val.labels, other.val.labels)
    # train and val partition the first 4000 training images
    pool = cifar.train.images[:4000].flatten(1)
    joined = torch.cat([data.train.images, data.val.images]).flatten(1)
    assert torch.equal(joined.sum(1).sort().values, pool.sum(1).sort().values)
    [h] = cifar10.Trainer(_small(epochs=1, val_size=500)).fit(data)
    assert h["val_samples"] == 500 and 0 <= h["val_accuracy"] <= 1 and math.isfinite(h["val_loss"])
    with pytest.raises(ConfigError, match="val_size"):
        cifar.limited(100, 10, val_size=100)


def test_resnet18_recipe_and_one_step(cifar):
    trainer = cifar10.Trainer(cifar10.Cifar10Config(model="resnet18", epochs=1, batch_size=16, device="cpu"))
    assert trainer.num_parameters == 11_173_962
    data = cifar.limited(32, 16)
    [h] = trainer.fit(data)
    assert math.isfinite(h["train_loss"]) and h["train_samples"] == 32


def test_invalid_settings_name_the_setting():
    with pytest.raises(ConfigError, match="model"):
        cifar10.Cifar10Config(model="vgg").validated()
    with pytest.raises(ConfigError, match="batch_size"):
        cifar10.Cifar10Config(batch_size=1).validated()
    with pytest.raises(ConfigError, match="NAIRRCORE_EPOCHS"):
        cifar10.Cifar10Config.from_env(environ={"NAIRRCORE_EPOCHS": "many"})
    fast = {"NAIRRCORE_MODEL": "fastnet", "NAIRRCORE_WIDTHS": "8,16,16"}
    assert cifar10.Cifar10Config.from_env(environ=fast).widths == (8, 16, 16)
    with pytest.raises(ConfigError, match="resnet18 takes 4 widths"):
        cifar10.Cifar10Config.from_env(environ={"NAIRRCORE_MODEL": "resnet18", "NAIRRCORE_WIDTHS": "8,16,16"})
