"""The CUDA path on real data: training in every precision, resident and
streamed loaders giving the same steps, checkpoints on the GPU, NCCL with one
rank against the plain loop, NVML telemetry, CIFAR-10's resident augmentation.
Skipped where no GPU is visible (conftest); docs/GPU_CHECK.md runs them."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

import nairrcore
from nairrcore import cifar10, forecasting as fc
from nairrcore.evidence.telemetry import Sampler

from conftest import CIFAR_DIR

pytestmark = pytest.mark.cuda

SMALL = dict(width=256, depth=2, dropout=0.1, batch_size=512, epochs=3, lr=3e-3, seed=3, device="cuda")


def _fit(data, **kw):
    trainer = fc.Trainer(fc.ForecastConfig(**{**SMALL, **kw}))
    return trainer, trainer.fit(data)


def _losses(history):
    return [(h["train_loss"], h["val_loss"]) for h in history]


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_every_precision_trains_on_the_gpu_through_a_graph(small_data, precision):
    trainer, history = _fit(small_data, precision=precision)
    assert trainer.precision == precision
    assert trainer.cuda_graphs.startswith("on: captured 1 time(s)"), trainer.cuda_graphs
    losses = [h["val_loss"] for h in history]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]
    metrics = trainer.evaluate(small_data.test)
    assert metrics["mae"]["tmax"] < 8.0  # a fitted model (a constant is about 20 °F off)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_graph_replays_give_the_eager_losses(small_data, precision):
    graphed, h_graph = _fit(small_data, precision=precision, dropout=0.0)
    eager, h_eager = _fit(small_data, precision=precision, dropout=0.0, cuda_graphs=False)
    assert eager.cuda_graphs == "off: turned off (cuda_graphs=false)"
    for (a, b), (c, d) in zip(_losses(h_graph), _losses(h_eager)):  # about 400 steps
        assert a == pytest.approx(c, rel=1e-3) and b == pytest.approx(d, rel=1e-3)


def test_fused_blocks_follow_the_unfused_ops(small_data):
    _, fused = _fit(small_data, precision="bf16", dropout=0.0)
    _, plain = _fit(small_data, precision="bf16", dropout=0.0, fused_blocks=False)
    for (a, b), (c, d) in zip(_losses(fused), _losses(plain)):
        assert a == pytest.approx(c, rel=2e-2) and b == pytest.approx(d, rel=2e-2)


def test_resident_and_streamed_data_give_the_same_steps(small_data):
    _, resident = _fit(small_data, precision="fp32", data_on_device=True)
    _, streamed = _fit(small_data, precision="fp32", data_on_device=False, workers=3)
    for (a, b), (c, d) in zip(_losses(resident), _losses(streamed)):
        assert a == pytest.approx(c, rel=1e-6) and b == pytest.approx(d, rel=1e-6)


def test_gpu_fp32_follows_the_cpu_loop(small_data):
    # TF32 products on the GPU: the same trajectory within a loose tolerance.
    _, gpu = _fit(small_data, precision="fp32", dropout=0.0, epochs=2)
    _, cpu = _fit(small_data, precision="fp32", dropout=0.0, epochs=2, device="cpu")
    for (a, b), (c, d) in zip(_losses(gpu), _losses(cpu)):
        assert a == pytest.approx(c, rel=2e-2) and b == pytest.approx(d, rel=2e-2)


def test_nccl_world_of_one_equals_the_plain_loop(weather_dir, tmp_path):
    params = ["cities=2", "width=64", "depth=2", "dropout=0", "batch_size=512", "epochs=2", "device=cuda",
              "precision=fp32", "cuda_graphs=false", f"data={weather_dir}"]

    def train(model, *extra, launcher=(sys.executable,)):
        cmd = [*launcher, "-m", "nairrcore", "train", "forecasting", "--quiet", "--save-model", str(model), *extra]
        for p in params:
            cmd += ["--param", p]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])["history"]

    torchrun = [str(__import__("pathlib").Path(sys.executable).with_name("torchrun")), "--nproc_per_node", "1",
                "--master_port", "29611"]
    h_ddp = train(tmp_path / "ddp.pt", "--distributed", "--timeout", "120", launcher=torchrun)
    h_one = train(tmp_path / "one.pt")
    for a, b in zip(h_ddp, h_one):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
    s_ddp = torch.load(tmp_path / "ddp.pt", weights_only=True)["state_dict"]
    s_one = torch.load(tmp_path / "one.pt", weights_only=True)["state_dict"]
    for k in s_one:
        torch.testing.assert_close(s_ddp[k], s_one[k], rtol=1e-4, atol=1e-5)


def test_nvml_telemetry_sees_the_gpu_work():
    sampler = Sampler(interval=0.1).start()
    assert sampler.gpu["available"], sampler.gpu
    sampler.phase = "train_epoch_0"
    a = torch.randn(8192, 8192, device="cuda")
    for _ in range(200):
        a = torch.tanh(a @ a * 1e-4)
    torch.cuda.synchronize()
    rows = sampler.stop()
    busy = [r for r in rows if r["phase"] == "train_epoch_0" and r["gpu_util_percent"] != ""]
    assert busy and max(float(r["gpu_util_percent"]) for r in busy) > 50
    assert max(int(r["gpu_mem_bytes"]) for r in busy) > 8192 * 8192 * 4


@pytest.fixture(scope="module")
def cifar_small():
    assert (CIFAR_DIR / "data_batch_1.bin.xz").is_file(), f"real data missing: {CIFAR_DIR}"
    full = cifar10.load(CIFAR_DIR)
    return full.limited(10000, 2000)


def test_resident_augmentation_equals_the_streamed_one(cifar_small):
    def batches(device, workers):
        images, labels = cifar_small.train.images[:3000], cifar_small.train.labels[:3000]
        if workers == 0:
            images, labels = images.to(device), labels.to(device)
        loader = nairrcore.ImageLoader(images, labels, batch_size=500, seed=5, device=device, workers=workers,
                                       pad=4, cutout=8)
        loader.set_epoch(1)
        return [(x.cpu(), y.cpu()) for x, y in loader]

    resident, streamed = batches("cuda", 0), batches("cuda", 2)
    assert len(resident) == len(streamed) == 6
    for (xa, ya), (xb, yb) in zip(resident, streamed):
        assert torch.equal(ya, yb)
        torch.testing.assert_close(xa, xb, rtol=0, atol=1e-6)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_fast_net_learns_through_graphs_and_recaptures_when_the_whitening_bias_freezes(cifar_small, precision):
    cfg = cifar10.Cifar10Config(model="fastnet", precision=precision, device="cuda", epochs=4, batch_size=500,
                                widths=(32, 64, 64))
    trainer = cifar10.Trainer(cfg)
    history = trainer.fit(cifar_small)
    assert trainer.cuda_graphs.startswith("on: captured 2 time(s)"), trainer.cuda_graphs  # bias frozen after 3
    assert all(math.isfinite(h["train_loss"]) for h in history)
    assert trainer.evaluate(cifar_small.test)["accuracy"] > 0.5  # chance is 0.10
    again = cifar10.Trainer(cfg).fit(cifar_small)
    assert [h["train_loss"] for h in again] == pytest.approx([h["train_loss"] for h in history], rel=1e-3)


def test_resnet18_trains_through_a_graph(cifar_small):
    cfg = cifar10.Cifar10Config(model="resnet18", precision="bf16", device="cuda", epochs=2, batch_size=250,
                                lr=0.05, bias_lr=0.05)
    trainer = cifar10.Trainer(cfg)
    history = trainer.fit(cifar_small)
    assert trainer.cuda_graphs.startswith("on: captured 1 time(s)"), trainer.cuda_graphs
    assert all(math.isfinite(h["train_loss"]) for h in history)
    assert history[1]["train_loss"] < history[0]["train_loss"]


def test_fast_net_takes_fp16_and_the_pool_kernels_by_default(cifar_small):
    cfg = cifar10.Cifar10Config(model="fastnet", device="cuda", epochs=1, batch_size=500, widths=(32, 64, 64))
    trainer = cifar10.Trainer(cfg)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        trainer.fit(cifar_small)
    assert trainer.precision == "fp16"
    names = [e.name for e in prof.events()]

    def calls(kernel: str) -> int:
        return sum(kernel in n for n in names)
    # Each step: the three groups' 2x2 pools on nairrcore's kernels, the head's 3x3 pool on torch's
    assert calls("cudnn::batchnorm_fwtr_nhwc") > 0  # fp16: torch hands BatchNorm to cuDNN
    assert calls("max_pool_forward<__half") == 3 * calls("max_pool_forward_nhwc") > 0
    assert calls("max_pool_backward<__half") == 3 * calls("max_pool_backward_nhwc") > 0


def test_a_plain_gpu_script_is_sampled_from_outside_with_its_energy(tmp_path, monkeypatch):
    """``nairrcore run`` on a script that never imports nairrcore: the runner's
    NVML rows show the GPU busy, and the energy is the board counter's difference."""
    from nairrcore.evidence import validate_run
    from nairrcore.execute import command_line, run_command

    monkeypatch.chdir(tmp_path)
    (tmp_path / "busy.py").write_text(
        "import time, torch\nx = torch.randn(8192, 8192, device='cuda')\nt0 = time.time()\n"
        "while time.time() - t0 < 6:\n    x = (x @ x).tanh()\ntorch.cuda.synchronize()\n")
    argv, name, code = command_line(str(tmp_path / "busy.py"), [], {})
    run_dir = run_command(argv, name, "workstation-gpu", tmp_path / "out", code=code, echo=False)
    assert validate_run(run_dir) == []
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["gpu_util_samples"] >= 3 and summary["mean_gpu_util_percent"] > 30
    energy = summary["energy"]
    if energy["gpu_j"] is None:  # a GPU older than Volta: said why
        assert "energy counter" in energy["reason"]
    else:
        assert energy["gpu_j"] > 6 * 20 and energy["window_sec"] >= 5  # a busy board draws tens of watts at least
