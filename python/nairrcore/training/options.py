"""How a run executes, as opposed to what it trains (the workload's settings):
checkpoints, preemption, gradient buckets, profiling, the CPU matrix library
and block cache. Each option is defined once, here; ``from_env`` reads the
variables ``nairrcore run`` and the generated batch jobs set, and the run
records the options it used."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from nairrcore.errors import ConfigError

CPU_MATMUL_LIBRARIES = ("onednn", "blas")


@dataclass(frozen=True)
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
                values[field.name] = _parse(var, raw, field.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ConfigError as exc:
            name = str(exc).split(":", 1)[0]
            source = f"NAIRRCORE_{name.upper()}" if name in values and name not in overrides else name
            raise ConfigError(f"{source}:{str(exc).split(':', 1)[1]}") from None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _parse(var: str, raw: str, default):
    kind = type(default) if default is not None else bool if var.endswith("BLOCK_CACHE") else str
    try:
        if kind is bool:
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes", "on")
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{var}: cannot parse {raw!r} as {kind.__name__}") from None


__all__ = ["RunOptions"]
