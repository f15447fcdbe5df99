"""Metrics over nothing: a metric computed over no rows or images is NaN
(0 / 0), never 0 or 100%, and says so."""

from __future__ import annotations

import math


def with_empty_note(metrics: dict, count: int, unit: str) -> dict:
    """``metrics`` with a note where ``count`` is 0: its numbers are NaN, not scores."""
    if count == 0:
        metrics["note"] = f"no {unit} in this split: every metric is NaN (undefined), not a score"
    return metrics


def is_number(value) -> bool:
    """A finite or infinite float or int, not NaN and not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
