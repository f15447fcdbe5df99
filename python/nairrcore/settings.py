"""What every workload's settings share: one frozen dataclass per workload is
the only source of its settings (the core receives each value from it and
the run records them all); defaults can be overridden by keyword, by a
notebook's defaults or by ``NAIRRCORE_<FIELD>`` environment variables; an
unknown or misspelt name is an error that suggests the close match; device
and precision are resolved here.

Fields are declared with ``setting(default, unit, doc)`` so that each states
its unit, and ``Settings.describe()`` lists them for documentation.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from typing import Any

import torch

from nairrcore.errors import ConfigError

ENV_PREFIX = "NAIRRCORE_"
# Variables of nairrcore itself, not settings of a workload (with every RunOptions field, below).
_OWN_ENV = {"RUN_DIR", "PLATFORM", "NOTEBOOK", "OUTPUTS", "CACHE", "PLATFORMS", "SHARED_DATA", "WEATHER_DIR", "VENV",
            "REQUIRE_SLURM", "FUZZ_SECONDS", "GPU_PART_MB", "GPU_PYTHON"}


PARAMETER_TYPES = (str, int, float, bool, type(None), list, tuple)
_ABSENT = object()


def literal(text: str):
    """A parameter given on a command line as papermill reads ``-p``: True,
    False and None by name, then int, then float, else the string itself."""
    named = {"True": True, "False": False, "None": None}
    if text in named:
        return named[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def setting(default: Any, unit: str = "", doc: str = "") -> Any:
    """A settings field with its unit ("" where it has none) and a one-line description."""
    kwargs = {"default_factory": lambda: default} if isinstance(default, (list, dict)) else {"default": default}
    return dataclasses.field(metadata={"unit": unit, "doc": doc}, **kwargs)


class Settings:
    """Base of the workloads' frozen settings dataclasses."""

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def check_names(cls, names, source: str = "") -> None:
        """ConfigError for the first name that is not a setting, with the close match."""
        known = cls.names()
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
                raise ConfigError(f"{source}{name!r} is not a {cls.__name__} setting{hint}")

    @classmethod
    def from_env(cls, defaults: dict | None = None, environ: dict | None = None, namespace: dict | None = None,
                 **overrides):
        """The dataclass defaults, then ``defaults`` (e.g. a notebook's small
        configuration), then ``NAIRRCORE_<FIELD>`` variables, then the
        notebook parameters in ``namespace`` (a notebook's ``globals()``: the
        names papermill or ``nairrcore run --param`` set in the cell they add
        after the parameters cell), then ``overrides``. A ``NAIRRCORE_``
        variable that names no setting is an error too."""
        environ = os.environ if environ is None else environ
        values = dict(defaults or {})
        cls.check_names(values, "defaults: ")
        fields = {f.name.upper(): f for f in dataclasses.fields(cls)}
        for key, raw in environ.items():
            if not key.startswith(ENV_PREFIX):
                continue
            name = key[len(ENV_PREFIX):]
            if name in fields:
                values[fields[name].name] = _parse(fields[name], raw)
            elif name not in RESERVED_ENV:
                cls.check_names([name.lower()], f"{key}: ")
        values.update(cls._injected(namespace or {}))
        cls.check_names(overrides, "")
        values.update(overrides)
        return cls(**values).validated()

    @classmethod
    def _injected(cls, namespace: dict) -> dict:
        """The settings among a notebook's global names: plain values only
        (what an injected parameters cell can hold), so an object a later cell
        bound to a setting's name (``data``, ``model``) is not taken for one.
        A string is parsed as its NAIRRCORE_<FIELD> variable would be."""
        out = {}
        for f in dataclasses.fields(cls):
            value = namespace.get(f.name, _ABSENT)
            if value is _ABSENT or not isinstance(value, PARAMETER_TYPES):
                continue
            out[f.name] = _parse(f, value) if isinstance(value, str) else value
        return out

    def validated(self):
        return self

    def replace(self, **changes):
        """A copy with ``changes`` applied (names checked)."""
        self.check_names(changes)
        return dataclasses.replace(self, **changes).validated()

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def describe(cls) -> list[dict]:
        """name, default, unit and description of every field."""
        out = []
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            out.append({"name": f.name, "default": default, "unit": f.metadata.get("unit", ""),
                        "doc": f.metadata.get("doc", "")})
        return out

    def resolve_device(self) -> torch.device:
        """cpu, or a GPU with its index ("cuda" and "auto" mean the current GPU)."""
        return resolve_device(getattr(self, "device", "auto"))

    def resolve_precision(self, device: torch.device) -> str:
        return resolve_precision(getattr(self, "precision", "auto"), device)


# How a run executes, as opposed to what it trains (a workload's Settings):
# checkpoints, preemption, gradient buckets, profiling, the CPU matrix library
# and block cache. ``from_env`` reads the variables ``nairrcore run`` and the
# generated batch jobs set; the run records the options it used.
CPU_MATMUL_LIBRARIES = ("onednn", "blas")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    checkpoint_dir: str | None = None  # checkpoints here, kept across restarts of a job (None: none)
    checkpoint_minutes: float = 10.0   # a checkpoint at least this often
    checkpoint_steps: int = 0          # ... and every this many steps (0: by time only)
    keep_checkpoints: int = 3
    resume: str = "auto"               # "auto": from the newest good checkpoint; "never": afresh
    preempt_exit_code: int = 85        # after SIGTERM/SIGUSR1 and a checkpoint; 85: HTCondor's "run me again"
    bucket_mb: float = 25.0            # data parallel: gradient all-reduce bucket size
    profile_steps: int = 0             # a profiler trace of this many steps into <run>/profile/
    cpu_matmul: str = ""               # "onednn" or "blas"; "": measured on this processor
    cpu_block_cache: bool | None = None  # keep freed CPU blocks for reuse (None: as the process has it)

    def __post_init__(self) -> None:
        checks = [
            ("checkpoint_minutes", self.checkpoint_minutes > 0, "a number of minutes > 0"),
            ("checkpoint_steps", self.checkpoint_steps >= 0, "a count >= 0"),
            ("keep_checkpoints", self.keep_checkpoints >= 1, "a count >= 1"),
            ("resume", self.resume in ("auto", "never"), "'auto' or 'never'"),
            ("preempt_exit_code", 1 <= self.preempt_exit_code <= 255, "an exit code 1..255"),
            ("bucket_mb", self.bucket_mb > 0, "a size > 0"),
            ("profile_steps", self.profile_steps >= 0, "a count >= 0"),
            ("cpu_matmul", self.cpu_matmul in ("",) + CPU_MATMUL_LIBRARIES, "'onednn', 'blas' or ''"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(f"{name}: expected {expected}, got {getattr(self, name)!r}")

    @classmethod
    def from_env(cls, environ=os.environ, **overrides) -> "RunOptions":
        """The options from ``NAIRRCORE_<OPTION>`` variables (checkpoint_dir:
        NAIRRCORE_CHECKPOINT_DIR, ...), then ``overrides``; a value that does
        not parse is a ConfigError naming the variable."""
        values = {}
        for field in dataclasses.fields(cls):
            var = f"NAIRRCORE_{field.name.upper()}"
            raw = environ.get(var, "").strip()
            if raw:
                values[field.name] = _parse(field, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ConfigError as exc:
            name = str(exc).split(":", 1)[0]
            source = f"NAIRRCORE_{name.upper()}" if name in values and name not in overrides else name
            raise ConfigError(f"{source}:{str(exc).split(':', 1)[1]}") from None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


RESERVED_ENV = _OWN_ENV | {f.name.upper() for f in dataclasses.fields(RunOptions)}


def core_field_names(core_type) -> list[str]:
    """The fields of one of the core's settings types (MlpConfig, FitConfig, ...)."""
    return [k for k, v in vars(core_type).items() if isinstance(v, property)]


def to_core(core_type, settings: dict, derived: dict | None = None):
    """A core settings object with every field set: from ``derived`` (values
    resolved from the data or the device) where it names the field, else the
    setting of the same name. The C++ structs have no defaults of their own,
    so a field neither supplies is an error here, not a silent zero."""
    derived = derived or {}
    obj = core_type()
    for name in core_field_names(core_type):
        if name not in derived and name not in settings:
            raise TypeError(f"{core_type.__name__}.{name}: no setting or derived value supplies it")
        value = derived[name] if name in derived else settings[name]
        setattr(obj, name, list(value) if isinstance(value, tuple) else value)
    return obj


def core_fields(obj) -> dict:
    """Every field of one of the core's settings objects (MlpConfig, FitConfig,
    ...) with its value: what the C++ side was given."""
    values = {k: getattr(obj, k) for k in core_field_names(type(obj))}
    return {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in values.items()}


def check(pairs) -> None:
    """ConfigError for the first (name, ok, why, value) whose ``ok`` is false."""
    for name, ok, why, value in pairs:
        if not ok:
            raise ConfigError(f"{name}: {why}, got {value!r}")


def resolve_device(name: str) -> torch.device:
    requested = name
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"device: expected auto, cpu, cuda or cuda:N, got {requested!r}") from exc
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device: expected auto, cpu, cuda or cuda:N, got {requested!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device: {requested!r} requested but no CUDA GPU is visible")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        elif device.index >= torch.cuda.device_count():
            raise ConfigError(f"device: {requested!r} requested but only {torch.cuda.device_count()} "
                              "GPU(s) are visible")
    return device


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
    if precision not in ("fp32", "bf16", "fp16"):
        raise ConfigError(f"precision: expected auto, fp32, bf16 or fp16, got {precision!r}")
    if precision == "bf16" and device_type == "cuda" and capability is not None and capability[0] < 8:
        raise ConfigError(f"precision: bf16 needs compute capability >= 8.0, this GPU has "
                          f"{capability[0]}.{capability[1]}; use fp16 (with loss scaling) or auto")
    if precision == "fp16" and device_type != "cuda":
        raise ConfigError("precision: fp16 needs a GPU; use fp32 or bf16 on the CPU, or auto")
    return precision


def resolve_precision(precision: str, device: torch.device) -> str:
    capability = torch.cuda.get_device_capability(device) if device.type == "cuda" else None
    if precision == "auto":
        return auto_precision(device.type, capability)
    return check_precision(precision, device.type, capability)


def _parse(f: dataclasses.Field, raw: str):
    name, hint = f.name, str(f.type)
    optional = "None" in hint
    try:
        if optional and raw.strip().lower() in ("", "none", "auto"):
            return None
        if "bool" in hint:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if "tuple" in hint:
            items = [s.strip() for s in raw.split(",") if s.strip()]
            if "str" in hint:
                return tuple(items)
            return tuple(float(s) for s in items) if "float" in hint else tuple(int(s) for s in items)
        if "int" in hint and "float" not in hint:
            return int(raw)
        if "float" in hint:
            return float(raw)
        return raw
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: cannot parse {raw!r} ({exc})") from exc
