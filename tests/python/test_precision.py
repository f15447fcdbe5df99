"""amp="auto": what each GPU generation gets, and the compiled architectures."""

import pytest

import nairrcore
from nairrcore.settings import auto_precision, check_precision
from nairrcore.errors import ConfigError

# (device, compute capability) -> precision; the GPUs of the supported platforms.
TABLE = [
    ("cpu", None, "fp32"),            # laptop, JetStream2
    ("cuda", (6, 1), "fp32"),         # GTX 10x0 / P40 on OSPool
    ("cuda", (7, 0), "fp16"),         # V100 (Bridges-2)
    ("cuda", (7, 5), "fp16"),         # T4 (AWS g4dn)
    ("cuda", (8, 0), "bf16"),         # A100 (Delta, Alvis)
    ("cuda", (8, 6), "bf16"),         # A40 (Alvis)
    ("cuda", (8, 9), "bf16"),         # L40S
    ("cuda", (9, 0), "bf16"),         # H100 (Anvil)
    ("cuda", (12, 0), "bf16"),        # Blackwell
]


@pytest.mark.parametrize("device,capability,expected", TABLE)
def test_auto_precision_table(device, capability, expected):
    assert auto_precision(device, capability) == expected


def test_build_info_lists_the_compiled_architectures():
    info = nairrcore.build_info()
    if not info["cuda"]:
        pytest.skip("built without CUDA")
    archs = info["cuda_architectures"].split(",")
    assert archs and all(a.replace("+PTX", "").replace(".", "").isdigit() for a in archs)
    assert archs[-1].endswith("+PTX")  # PTX for GPUs newer than the list
    assert "9.0" in archs[-1] or "9.0" in archs


def test_a_precision_the_device_lacks_fails_clearly():
    with pytest.raises(ConfigError, match="bf16 needs compute capability >= 8.0, this GPU has 7.5"):
        check_precision("bf16", "cuda", (7, 5))
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        check_precision("fp16", "cpu", None)
    assert check_precision("bf16", "cpu", None) == "bf16"
    assert check_precision("fp16", "cuda", (6, 1)) == "fp16"


@pytest.mark.parametrize("capability,fastnet,resnet18", [((6, 1), "fp32", "fp32"), ((7, 5), "fp16", "fp16"),
                                                         ((9, 0), "fp16", "bf16")])
def test_the_fast_net_takes_its_recipes_fp16_on_gpus(monkeypatch, capability, fastnet, resnet18):
    import torch
    from nairrcore import cifar10

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    gpu = torch.device("cuda", 0)
    assert cifar10.Cifar10Config(model="fastnet").resolve_precision(gpu) == fastnet
    assert cifar10.Cifar10Config(model="resnet18").resolve_precision(gpu) == resnet18
    if capability >= (8, 0):  # a precision asked for is kept
        assert cifar10.Cifar10Config(model="fastnet", precision="bf16").resolve_precision(gpu) == "bf16"
    assert cifar10.Cifar10Config(model="fastnet").resolve_precision(torch.device("cpu")) == "fp32"
