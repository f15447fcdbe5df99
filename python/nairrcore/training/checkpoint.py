"""Checkpoints that survive preemption: written atomically (temp file, fsync,
rename) with a sha256 sidecar; the newest K kept; a corrupt or partial one is
detected and the previous one used."""

from __future__ import annotations

import hashlib
import io
import os
import re
import signal
import time
import warnings
from pathlib import Path

import torch

from nairrcore.errors import ConfigError
from nairrcore.files import write_bytes

_NAME = re.compile(r"^ckpt-(\d{9})\.pt$")


class CheckpointManager:
    """``ckpt-<step>.pt`` files in ``directory``, each with ``.sha256`` beside it."""

    def __init__(self, directory: str | os.PathLike, keep: int = 3, every_steps: int = 0,
                 every_seconds: float = 0.0) -> None:
        if keep < 1:
            raise ConfigError(f"checkpoint keep: expected >= 1, got {keep}")
        self.directory = Path(directory)
        self.keep, self.every_steps, self.every_seconds = keep, every_steps, every_seconds
        self._last_time = time.monotonic()
        self._last_step = 0

    def due(self, step: int) -> bool:
        """Whether a checkpoint is due at `step`: a multiple of every_steps was
        reached since the last one (the loop may call back every few steps), or
        every_seconds passed."""
        if self.every_steps and step // self.every_steps > self._last_step // self.every_steps:
            return True
        return bool(self.every_seconds) and time.monotonic() - self._last_time >= self.every_seconds

    def resumed_at(self, step: int) -> None:
        """Counting for due() continues from a checkpoint's step."""
        self._last_step = step

    def save(self, payload: dict, step: int) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save(payload, buf)
        data = buf.getvalue()
        path = self.directory / f"ckpt-{step:09d}.pt"
        write_bytes(path, data, fsync=True)
        write_bytes(path.with_suffix(".pt.sha256"), f"{hashlib.sha256(data).hexdigest()}  {path.name}\n".encode(),
                    fsync=True)
        self._last_time = time.monotonic()
        self._last_step = step
        for old in self.checkpoints()[self.keep:]:
            old.unlink(missing_ok=True)
            old.with_suffix(".pt.sha256").unlink(missing_ok=True)
        return path

    def checkpoints(self) -> list[Path]:
        """Newest first."""
        if not self.directory.is_dir():
            return []
        return sorted((p for p in self.directory.iterdir() if _NAME.match(p.name)), reverse=True)

    def latest(self) -> tuple[dict, Path] | None:
        """The newest checkpoint whose checksum matches, or None."""
        for path in self.checkpoints():
            sidecar = path.with_suffix(".pt.sha256")
            data = path.read_bytes()
            try:
                expected = sidecar.read_text(encoding="ascii").split()[0] if sidecar.is_file() else None
            except (IndexError, UnicodeDecodeError, OSError):
                expected = "unreadable"
            if expected != hashlib.sha256(data).hexdigest():
                warnings.warn(f"{path}: checksum {'missing' if expected is None else 'mismatch'}; "
                              "skipping this checkpoint (partial or corrupt)", stacklevel=2)
                continue
            try:
                state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
            except Exception as exc:  # noqa: BLE001 - torch.load raises many kinds on bad bytes
                warnings.warn(f"{path}: unreadable ({type(exc).__name__}); skipping this checkpoint", stacklevel=2)
                continue
            if not isinstance(state, dict):
                warnings.warn(f"{path}: not a nairrcore checkpoint; skipping it", stacklevel=2)
                continue
            return state, path
        return None


class Preempted(RuntimeError):
    """The run was asked to stop (SIGTERM, SIGUSR1) and saved a checkpoint."""

    def __init__(self, signum: int, checkpoint: Path | None, exit_code: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name}; checkpoint {checkpoint}; exit code {exit_code}")
        self.signum, self.checkpoint, self.exit_code = signum, checkpoint, exit_code


class PreemptionGuard:
    """Catches SIGTERM and SIGUSR1 (Slurm's --signal, HTCondor's eviction) while
    training so the loop can finish its step and checkpoint; restores the
    previous handlers on exit. Outside the main thread it does nothing."""

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict = {}

    def __enter__(self) -> "PreemptionGuard":
        try:
            for s in self.SIGNALS:
                self._old[s] = signal.signal(s, self._handle)
        except ValueError:  # not the main thread
            self._old.clear()
        return self

    def _handle(self, signum, frame) -> None:
        self.signum = signum

    def __exit__(self, *exc) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)
