"""What a tracking call costs a training loop: 10,000 empty epochs
(``with track.epoch(...)``) and 10,000 metric calls into a run folder, as
under ``nairrcore run``. Prints JSON with the time per call.

    python bench/track_calls.py [--calls 10000] [--out x.json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from nairrcore.evidence.environment import git_state, machine
from nairrcore.evidence.track import Tracker
from emit import emit  # bench/emit.py, beside this script

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=10_000)
    p.add_argument("--out")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tracker = Tracker(Path(tmp))
        t0 = time.perf_counter()
        for _ in range(args.calls):
            tracker.record_epoch(1e-3, 1000, train_loss=0.5)
        epoch_sec = (time.perf_counter() - t0) / args.calls
        t0 = time.perf_counter()
        for i in range(args.calls):
            tracker.metric("val_loss", 1.0 / (i + 1), lower_is_better=True)
        metric_sec = (time.perf_counter() - t0) / args.calls
        tracker.close()
        rows = sum(1 for _ in open(Path(tmp) / "epoch_timing.csv")) - 1
    result = {"benchmark": "track_calls", "config": vars(args), "machine": machine(), "git": git_state(REPO),
              "epoch_call_us": epoch_sec * 1e6, "metric_call_us": metric_sec * 1e6, "epoch_rows_written": rows}
    emit(result, args.out)


if __name__ == "__main__":
    main()
