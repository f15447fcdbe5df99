"""What the workloads' trainers share."""

from __future__ import annotations

import math


def epoch_dict(s) -> dict:
    """One epoch's statistics from a C++ loop as a plain dict."""
    d = {
        "epoch": s.epoch, "train_loss": s.train_loss, "val_loss": s.val_loss,
        "train_sec": s.train_sec, "val_sec": s.val_sec, "epoch_sec": s.train_sec + s.val_sec,
        "train_samples": s.train_samples, "samples_per_sec": s.samples_per_sec,
        "data_wait_sec": s.data_wait_sec, "loss_scale": s.loss_scale, "skipped_steps": s.skipped_steps,
    }
    if s.val_accuracy == s.val_accuracy:  # not NaN
        d["val_accuracy"] = s.val_accuracy
    if s.rank_train_sec:
        d["rank_train_sec"] = list(s.rank_train_sec)
    return d


def recorder_hooks(recorder, start_epoch: int):
    """Epoch and step hooks that mark the recorder's telemetry phases
    (train_epoch_N while training, validation_epoch_N while evaluating) and
    time the first step; (None, None) without a recorder."""
    if recorder is None:
        return None, None
    recorder.mark(f"train_epoch_{start_epoch}")

    def on_step(epoch: int, batch: int, batches: int) -> None:
        if batch == 1:
            recorder.step()
        if batch == batches:
            recorder.mark(f"validation_epoch_{epoch}")

    def on_epoch(stats: dict) -> None:
        recorder.epoch(stats)
        recorder.mark(f"train_epoch_{stats['epoch'] + 1}")

    return on_epoch, on_step


class CheckpointedFit:
    """Wraps a trainer's C++ fit with checkpoints and preemption handling.

    ``checkpoint``: a CheckpointManager (None: no checkpoints). ``resume="auto"``
    restores the newest good checkpoint first. On SIGTERM/SIGUSR1 the current
    step finishes, a checkpoint is written and ``Preempted`` is raised (its
    ``exit_code`` tells the caller what to exit with, 85 by default).
    """

    def __init__(self, trainer, workload: str, checkpoint=None, resume: str | None = None,
                 recorder=None, exit_code: int = 85, profiler: "StepProfiler | None" = None) -> None:
        if resume not in (None, "auto", "never"):
            from nairrcore.errors import ConfigError

            raise ConfigError(f"resume: expected 'auto' or 'never', got {resume!r}")
        self.trainer, self.workload, self.checkpoint = trainer, workload, checkpoint
        self.resume, self.recorder, self.exit_code = resume, recorder, exit_code
        self.profiler = profiler
        self.steps = 0
        self.resumed_from = None
        self._position = (trainer._impl.epochs_done, trainer._impl.next_batch)

    def payload(self) -> dict:
        import torch

        state = {"workload": self.workload, "core": self.trainer._impl.save_state(),
                 "rng_cpu": torch.get_rng_state(), "history": list(self.trainer.history),
                 "recorder_epochs": list(self.recorder.epochs) if self.recorder else None,
                 "config": self.trainer.config.as_dict(), "steps": self.steps}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["rng_cuda"] = torch.cuda.get_rng_state_all()
        return state

    def restore(self) -> None:
        import torch

        if self.checkpoint is None or self.resume != "auto":
            return
        found = self.checkpoint.latest()
        if found is None:
            return
        state, path = found
        if state.get("workload") != self.workload:
            from nairrcore.errors import ConfigError

            raise ConfigError(f"{path}: a {state.get('workload')} checkpoint cannot resume {self.workload}")
        self.trainer._impl.load_state(state["core"])
        torch.set_rng_state(state["rng_cpu"])
        if "rng_cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        self.trainer.history[:] = state["history"]
        if self.recorder is not None and state.get("recorder_epochs") is not None:
            self.recorder.restore_epochs(state["recorder_epochs"])
        self.steps = state["steps"]
        self.checkpoint.resumed_at(self.steps)
        self.resumed_from = path
        self._position = (self.trainer._impl.epochs_done, self.trainer._impl.next_batch)

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
        seen by any rank counts for all (one tiny all-reduce per step)."""
        if self._group is None or self._group.size == 1:
            return signum is not None
        import torch

        flag = torch.tensor([0.0 if signum is None else 1.0], device=self.trainer.device)
        self._group.allreduce_sum_([flag])
        return bool(flag.item() > 0)

    def callback_every(self) -> int:
        """Steps between calls of the step callback. Each call takes Python's
        GIL, so on a GPU the loop calls back every 32 steps (and after every
        epoch's first and last), never waiting on the device in between; a
        profile or a checkpoint every N steps asks for finer calls."""
        if self.profiler is not None or getattr(self.trainer, "device", None) is None \
                or self.trainer.device.type != "cuda":
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
        """``fit_call(epoch_hook, step_hook, callback_every)`` runs the C++ loop (after ``restore()``)."""
        from nairrcore.checkpoint import Preempted, PreemptionGuard

        with PreemptionGuard() as guard:
            def on_step(epoch: int, batch: int, batches: int) -> None:
                if step_hook is not None:
                    step_hook(epoch, batch, batches)
                if self.profiler is not None:
                    self.profiler.step()
                self.steps += self._advance(epoch, batch)
                if self._stop_requested(guard.signum):
                    import signal as _signal

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


class StepProfiler:
    """torch.profiler over a few training steps of the C++ loop (its
    nairrcore::* ranges included): skips ``wait`` steps, records ``steps``,
    then writes a Chrome trace (chrome://tracing, Perfetto) and a table of
    where the time went."""

    def __init__(self, out_dir, steps: int = 20, wait: int = 2) -> None:
        from pathlib import Path

        self.out_dir, self.steps, self.wait = Path(out_dir), steps, wait
        self._seen = 0
        self._prof = None
        self.trace = None

    def step(self) -> None:
        import torch

        self._seen += 1
        if self._seen == self.wait and self._prof is None:
            activities = [torch.profiler.ProfilerActivity.CPU]
            if torch.cuda.is_available() and torch.cuda.is_initialized():
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            self._prof = torch.profiler.profile(activities=activities)
            self._prof.__enter__()
        elif self._prof is not None and self._seen == self.wait + self.steps:
            self.finish()

    def finish(self) -> None:
        if self._prof is None or self.trace is not None:
            return
        from nairrcore.evidence.files import write_text

        self._prof.__exit__(None, None, None)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.trace = self.out_dir / "trace.json"
        tmp = self.out_dir / ".trace.json.tmp"
        self._prof.export_chrome_trace(str(tmp))
        tmp.replace(self.trace)
        table = self._prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25)
        write_text(self.out_dir / "summary.txt", f"{self.steps} training steps after {self.wait} warm-up steps\n\n"
                   + table + "\n")


def run_fit(trainer, workload: str, fit_call, *, total_epochs: int, postfix, on_epoch=None,
            progress: bool = False, recorder=None, checkpoint=None, resume: str | None = None,
            preempt_exit_code: int = 85, profiler=None) -> list[dict]:
    """The body both trainers' ``fit`` share: restore a checkpoint, progress
    bar, recorder phases, epoch hooks, checkpoints and preemption around
    ``fit_call(epoch_hook, step_hook, callback_every)`` (the C++ loop).
    ``postfix(d)`` gives the progress bar's per-epoch fields. How the steps
    ran (CUDA graphs or why not) goes into the recorder's run_config.json."""
    impl = trainer._impl
    ck = CheckpointedFit(trainer, workload, checkpoint, resume, recorder, preempt_exit_code, profiler)
    ck.restore()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_epochs, initial=impl.epochs_done, unit="epoch")
    record_epoch, step_hook = recorder_hooks(recorder, impl.epochs_done)

    def epoch_hook(stats) -> None:
        d = epoch_dict(stats)
        trainer.history.append(d)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(**postfix(d))
        if record_epoch is not None:
            record_epoch(d)
        if on_epoch is not None:
            on_epoch(d)

    try:
        ck.run(fit_call, epoch_hook, step_hook)
    finally:
        if bar is not None:
            bar.close()
        if recorder is not None:
            recorder.config(cuda_graphs=impl.cuda_graphs)
    return trainer.history
