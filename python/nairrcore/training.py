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
