"""What every trainer's ``fit`` shares around its loop: resuming from a
checkpoint (refused when the settings or the data differ), the progress bar,
the recorder's phase marks, epoch hooks, checkpoints, preemption, and
stopping a run whose losses stopped being numbers.

A loop is driven through a small protocol (``LoopHandle``): the C++ trainers
and the Python-step ``ModelTrainer`` both provide it.
"""

from __future__ import annotations

import math
import signal as _signal
from pathlib import Path
from typing import Protocol

import torch

from nairrcore.errors import ConfigError, DataError
from nairrcore.progress import progress_bar
from nairrcore._native import core as _core
from nairrcore.training import cpu_library
from nairrcore.training.checkpoint import CheckpointManager, Preempted, PreemptionGuard
from nairrcore.settings import RunOptions
from nairrcore.training.profiler import StepProfiler

# Settings that say how a run executes, not what it trains: they may differ on resume.
EXECUTION_SETTINGS = frozenset({"data", "device", "data_on_device", "workers", "prefetch", "threads", "in_memory",
                                "cuda_graphs", "fused_blocks", "channels_last", "eval_batch_size"})


class TrainingDiverged(RuntimeError):
    """A loss or validation loss stopped being a finite number."""


class LoopHandle(Protocol):
    """What run_fit needs from a training loop."""

    epochs_done: int
    next_batch: int

    def save_state(self) -> bytes: ...
    def load_state(self, blob: bytes) -> None: ...


def epoch_dict(s) -> dict:
    """One epoch's statistics from a loop as a plain dict."""
    d = {
        "epoch": s.epoch, "train_loss": s.train_loss, "val_loss": s.val_loss,
        "train_sec": s.train_sec, "val_sec": s.val_sec, "epoch_sec": s.train_sec + s.val_sec,
        "train_samples": s.train_samples, "samples_per_sec": s.samples_per_sec,
        "data_wait_sec": s.data_wait_sec, "loss_scale": s.loss_scale, "skipped_steps": s.skipped_steps,
        "nonfinite_losses": s.nonfinite_losses, "val_samples": s.val_samples,
    }
    if s.val_accuracy == s.val_accuracy:  # not NaN
        d["val_accuracy"] = s.val_accuracy
    if s.rank_train_sec:
        d["rank_train_sec"] = list(s.rank_train_sec)
    return d


def check_finite(d: dict, precision: str) -> None:
    """TrainingDiverged unless the epoch's losses are numbers. With fp16 loss
    scaling a step whose loss is inf/NaN is skipped and left out of the
    epoch's loss, so there only a non-finite validation loss (or no finite
    batch at all) counts."""
    problems = []
    if d.get("nonfinite_losses") and precision != "fp16":
        problems.append(f"{d['nonfinite_losses']} batch(es) had an inf/NaN loss")
    if not math.isfinite(d.get("train_loss", 0.0)):
        problems.append(f"train_loss is {d['train_loss']}")
    if d.get("val_samples") and not math.isfinite(d.get("val_loss", 0.0)):
        problems.append(f"val_loss is {d['val_loss']}")
    if problems:
        raise TrainingDiverged(f"training diverged in epoch {d['epoch']}: {'; '.join(problems)}; "
                               "the run is stopped (lower the learning rate, or on a GPU use fp16 loss scaling)")


def recorder_hooks(recorder, start_epoch: int):
    """Epoch and step hooks that mark the recorder's telemetry phases
    (train_epoch_N while training, validation_epoch_N while evaluating,
    between_epochs otherwise) and time the first step; (None, None) without
    a recorder."""
    if recorder is None:
        return None, None
    recorder.mark(f"train_epoch_{start_epoch}")

    def on_step(epoch: int, batch: int, batches: int) -> None:
        if batch == 1:
            recorder.mark(f"train_epoch_{epoch}")
            recorder.step()
        if batch == batches:
            recorder.mark(f"validation_epoch_{epoch}")

    def on_epoch(stats: dict) -> None:
        recorder.epoch(stats)
        recorder.mark("between_epochs")

    return on_epoch, on_step


def _settings_diff(saved: dict, current: dict) -> list[str]:
    keys = (set(saved) | set(current)) - EXECUTION_SETTINGS
    return sorted(k for k in keys if saved.get(k) != current.get(k))


class CheckpointedFit:
    """Wraps a trainer's loop with checkpoints and preemption handling.

    ``checkpoint``: a CheckpointManager (None: no checkpoints). ``resume="auto"``
    restores the newest good checkpoint first, after checking it was written
    by a run of the same workload, settings and data; ``"never"`` starts
    afresh. On SIGTERM/SIGUSR1 the current step finishes, a checkpoint is
    written and ``Preempted`` is raised (its ``exit_code`` tells the caller
    what to exit with).
    """

    def __init__(self, trainer, workload: str, loop: LoopHandle, dataset: dict | None, checkpoint,
                 resume: str, recorder, exit_code: int, profiler: StepProfiler | None) -> None:
        self.trainer, self.workload, self.loop, self.dataset = trainer, workload, loop, dataset
        self.checkpoint, self.resume, self.recorder, self.exit_code = checkpoint, resume, recorder, exit_code
        self.profiler = profiler
        self.steps = 0
        self.resumed_from = None
        self._position = (loop.epochs_done, loop.next_batch)

    def payload(self) -> dict:
        state = {"workload": self.workload, "core": self.loop.save_state(),
                 "rng_cpu": torch.get_rng_state(), "history": list(self.trainer.history),
                 "recorder_epochs": list(self.recorder.epochs) if self.recorder else None,
                 "config": self.trainer.config.as_dict(), "dataset": (self.dataset or {}).get("sha256"),
                 "steps": self.steps}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["rng_cuda"] = torch.cuda.get_rng_state_all()
        return state

    def restore(self) -> None:
        if self.checkpoint is None or self.resume != "auto":
            return
        found = self.checkpoint.latest()
        if found is None:
            return
        state, path = found
        if state.get("workload") != self.workload:
            raise ConfigError(f"{path}: a {state.get('workload')} checkpoint cannot resume {self.workload}")
        diff = _settings_diff(state.get("config") or {}, self.trainer.config.as_dict())
        if diff:
            saved, now = state.get("config") or {}, self.trainer.config.as_dict()
            changes = ", ".join(f"{k} {saved.get(k)!r} -> {now.get(k)!r}" for k in diff)
            raise ConfigError(f"{path}: written with other settings ({changes}); resume with the same settings, "
                              "or start afresh (--resume never, or another checkpoint folder)")
        if self.dataset is not None and state.get("dataset") not in (None, self.dataset.get("sha256")):
            raise ConfigError(f"{path}: written for other data (dataset fingerprint {state.get('dataset')}, "
                              f"now {self.dataset.get('sha256')}); start afresh with --resume never")
        try:
            self.loop.load_state(state["core"])
        except DataError as exc:
            raise DataError(f"{path}: {exc}") from exc
        torch.set_rng_state(state["rng_cpu"])
        if "rng_cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        self.trainer.history[:] = state["history"]
        if self.recorder is not None and state.get("recorder_epochs") is not None:
            self.recorder.restore_epochs(state["recorder_epochs"])
        self.steps = state["steps"]
        self.checkpoint.resumed_at(self.steps)
        self.resumed_from = path
        self._position = (self.loop.epochs_done, self.loop.next_batch)

    @property
    def _group(self):
        return getattr(self.trainer, "_group", None)

    def save(self):
        """Rank 0 writes (the ranks hold the same state) and gets the path; the
        others write nothing and resume from it."""
        if self.checkpoint is None or (self._group is not None and self._group.rank != 0):
            return None
        return self.checkpoint.save(self.payload(), self.steps)

    def _stop_requested(self, signum) -> bool:
        """Data parallel: every rank stops after the same step, so a signal
        seen by any rank counts for all (one tiny all-reduce per callback)."""
        if self._group is None or self._group.size == 1:
            return signum is not None
        flag = torch.tensor([0.0 if signum is None else 1.0], device=self.trainer.device)
        self._group.allreduce_sum_([flag])
        return bool(flag.item() > 0)

    def callback_every(self) -> int:
        """Steps between calls of the step callback. Each call takes Python's
        GIL, so on a GPU the loop calls back every 32 steps (and after every
        epoch's first and last), never waiting on the device in between; a
        profile or a checkpoint every N steps asks for finer calls."""
        device = getattr(self.trainer, "device", None)
        if self.profiler is not None or device is None or device.type != "cuda":
            return 1
        every = 32
        if self.checkpoint is not None and self.checkpoint.every_steps:
            every = math.gcd(every, self.checkpoint.every_steps)
        return every

    def _advance(self, epoch: int, batch: int) -> int:
        """Steps taken since the previous call (the loop calls after each epoch's last batch)."""
        last_epoch, last_batch = self._position
        self._position = (epoch, batch)
        return batch - last_batch if epoch == last_epoch else batch

    def run(self, fit_call, epoch_hook, step_hook) -> None:
        """``fit_call(epoch_hook, step_hook, callback_every)`` runs the loop (after ``restore()``)."""
        with PreemptionGuard() as guard:
            def on_step(epoch: int, batch: int, batches: int) -> None:
                if step_hook is not None:
                    step_hook(epoch, batch, batches)
                if self.profiler is not None:
                    self.profiler.step()
                self.steps += self._advance(epoch, batch)
                if self._stop_requested(guard.signum):
                    path = self.save()
                    raise Preempted(guard.signum or _signal.SIGTERM, path, self.exit_code)
                if self.checkpoint is not None and self.checkpoint.due(self.steps):
                    self.save()

            try:
                fit_call(epoch_hook, on_step, self.callback_every())
            finally:
                if self.profiler is not None:
                    self.profiler.finish()
        self.save()


def run_fit(trainer, workload: str, loop: LoopHandle, fit_call, *, total_epochs: int, postfix, dataset=None,
            on_epoch=None, progress: bool = False, recorder=None) -> list[dict]:
    """The body every trainer's ``fit`` shares: restore a checkpoint, progress
    bar, recorder phases, epoch hooks, checkpoints and preemption around
    ``fit_call(epoch_hook, step_hook, callback_every)`` (the loop), and a
    stop with TrainingDiverged when a loss stops being finite.
    ``postfix(d)`` gives the progress bar's per-epoch fields. How the run
    executes comes from ``trainer.options`` (RunOptions) and is recorded, with
    how the steps ran (CUDA graphs or why not), in run_config.json."""
    options: RunOptions = trainer.options
    checkpoint = CheckpointManager(Path(options.checkpoint_dir), keep=options.keep_checkpoints,
                                   every_steps=options.checkpoint_steps,
                                   every_seconds=60.0 * options.checkpoint_minutes) if options.checkpoint_dir else None
    run_dir = getattr(recorder, "run_dir", None)
    profiler = StepProfiler(Path(run_dir) / "profile", steps=options.profile_steps) \
        if options.profile_steps and run_dir is not None else None
    if options.cpu_block_cache is not None:
        _core.set_cpu_block_cache(options.cpu_block_cache)
    recorded = {"run_options": options.as_dict()}
    if torch.device(getattr(trainer, "device", "cpu")).type == "cpu":
        recorded["cpu_matmul_choice"] = cpu_library.ensure_chosen(getattr(trainer, "layer_shape", None),
                                                                  options.cpu_matmul)
    if recorder is not None:
        recorder.config(**recorded)  # one write of run_config.json
    ck = CheckpointedFit(trainer, workload, loop, dataset, checkpoint, options.resume, recorder,
                         options.preempt_exit_code, profiler)
    ck.restore()
    bar = progress_bar(total=total_epochs, initial=loop.epochs_done, unit="epoch") if progress else None
    record_epoch, step_hook = recorder_hooks(recorder, loop.epochs_done)
    precision = getattr(trainer, "precision", "fp32")

    def epoch_hook(stats) -> None:
        d = stats if isinstance(stats, dict) else epoch_dict(stats)
        trainer.history.append(d)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(**postfix(d))
        if record_epoch is not None:
            record_epoch(d)
        if on_epoch is not None:
            on_epoch(d)
        check_finite(d, precision)

    try:
        ck.run(fit_call, epoch_hook, step_hook)
    finally:
        if bar is not None:
            bar.close()
        if recorder is not None:
            recorder.config(cuda_graphs=getattr(loop, "cuda_graphs", "off: a Python step"))
    return trainer.history
