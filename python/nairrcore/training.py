"""What the workloads' trainers share."""

from __future__ import annotations


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
