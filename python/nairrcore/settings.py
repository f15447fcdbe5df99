"""What the workload configurations share: defaults overridable from
``NAIRRCORE_<FIELD>`` environment variables, device and precision choice."""

from __future__ import annotations

import dataclasses
import os

import torch

from nairrcore.errors import ConfigError

ENV_PREFIX = "NAIRRCORE_"


class EnvConfig:
    """Mixin for frozen dataclasses. Fields typed ``bool | None`` accept
    ``auto``/``none``; tuple fields take comma-separated values."""

    @classmethod
    def from_env(cls, defaults: dict | None = None, environ: dict | None = None):
        """The dataclass defaults, then ``defaults`` (e.g. a notebook's small
        configuration), then ``NAIRRCORE_<FIELD>`` variables (NAIRRCORE_EPOCHS=3)."""
        environ = os.environ if environ is None else environ
        values = dict(defaults or {})
        names = {f.name for f in dataclasses.fields(cls)}
        for f in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f, raw)
        unknown = set(values) - names
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} settings: {sorted(unknown)}")
        return cls(**values).validated()

    def validated(self):
        return self

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def resolve_device(self) -> torch.device:
        """cpu, or a GPU with its index ("cuda" and "auto" mean the current GPU)."""
        name = self.device
        if name == "auto":
            name = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            device = torch.device(name)
        except RuntimeError as exc:
            raise ConfigError(f"device: expected auto, cpu, cuda or cuda:N, got {self.device!r}") from exc
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ConfigError(f"device: {self.device!r} requested but no CUDA GPU is visible")
            if device.index is None:
                device = torch.device("cuda", torch.cuda.current_device())
            elif device.index >= torch.cuda.device_count():
                raise ConfigError(f"device: {self.device!r} requested but only {torch.cuda.device_count()} "
                                  "GPU(s) are visible")
        return device

    def resolve_precision(self, device: torch.device) -> str:
        return resolve_precision(self.precision, device)


def auto_precision(device_type: str, capability: tuple[int, int] | None) -> str:
    """The ``amp="auto"`` rule: bf16 on GPUs of compute capability >= 8.0,
    fp16 (with dynamic loss scaling) on 7.x, fp32 below and on the CPU."""
    if device_type != "cuda" or capability is None:
        return "fp32"
    major = capability[0]
    if major >= 8:
        return "bf16"
    return "fp16" if major == 7 else "fp32"


def enable_tf32(device: torch.device) -> bool:
    """TF32 tensor-core matmuls and convolutions where the GPU has them
    (compute capability >= 8.0); returns whether they are on."""
    if device.type != "cuda" or torch.cuda.get_device_capability(device)[0] < 8:
        return False
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    return True


def check_precision(precision: str, device_type: str, capability: tuple[int, int] | None) -> str:
    """ConfigError when the device cannot run ``precision`` (a pool may hand out any GPU)."""
    if precision == "bf16" and device_type == "cuda" and capability is not None and capability[0] < 8:
        raise ConfigError(f"precision: bf16 needs compute capability >= 8.0, this GPU has "
                          f"{capability[0]}.{capability[1]}; use fp16 (with loss scaling) or auto")
    if precision == "fp16" and device_type != "cuda":
        raise ConfigError("precision: fp16 needs a GPU; use fp32 or bf16 on the CPU, or auto")
    return precision


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision != "auto":
        capability = torch.cuda.get_device_capability(device) if device.type == "cuda" else None
        return check_precision(precision, device.type, capability)
    capability = torch.cuda.get_device_capability(device) if device.type == "cuda" else None
    return auto_precision(device.type, capability)


def _parse(f: dataclasses.Field, raw: str):
    name, hint = f.name, str(f.type)
    try:
        if "bool" in hint:
            if "None" in hint and raw.lower() in ("", "none", "auto"):
                return None
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if "tuple" in hint:
            items = [s.strip() for s in raw.split(",") if s.strip()]
            return tuple(items) if "str" in hint else tuple(int(s) for s in items)
        if "int" in hint and "float" not in hint:
            return None if "None" in hint and raw.lower() in ("", "none", "auto") else int(raw)
        if "float" in hint:
            return None if "None" in hint and raw.lower() in ("", "none", "auto") else float(raw)
        return (raw or None) if "None" in hint else raw
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: cannot parse {raw!r} ({exc})") from exc
