"""A torch.profiler trace of a few training steps of any loop (the C++
loops' nairrcore::* ranges included)."""

from __future__ import annotations

from pathlib import Path

import torch

from nairrcore.files import atomic_path, write_text


class StepProfiler:
    """Skips ``wait`` steps, records ``steps``, then writes a Chrome trace
    (chrome://tracing, Perfetto) and a table of where the time went."""

    def __init__(self, out_dir, steps: int = 20, wait: int = 2) -> None:
        self.out_dir, self.steps, self.wait = Path(out_dir), steps, wait
        self._seen = 0
        self._prof = None
        self.trace = None

    def step(self) -> None:
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
        self._prof.__exit__(None, None, None)
        self.trace = self.out_dir / "trace.json"
        with atomic_path(self.trace) as tmp:
            self._prof.export_chrome_trace(str(tmp))
        table = self._prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25)
        write_text(self.out_dir / "summary.txt", f"{self.steps} training steps after {self.wait} warm-up steps\n\n"
                   + table + "\n")
