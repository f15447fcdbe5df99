"""Host (and, where torch can see it, GPU memory) sampling about once a second,
with the current phase marker."""

from __future__ import annotations

import os
import threading
import time

import torch

from nairrcore._native import core as _core

COLUMNS = ["time_unix", "elapsed_sec", "phase", "cpu_percent", "rss_bytes", "gpu_util_percent",
           "gpu_mem_bytes", "gpu_power_w"]


class Sampler:
    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.rows: list[dict] = []
        self.phase = "start"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nairrcore-telemetry", daemon=True)
        self._t0 = time.time()
        self._last = (time.monotonic(), sum(os.times()[:2]))

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def sample(self) -> None:
        now, cpu = time.monotonic(), sum(os.times()[:2])
        wall = max(now - self._last[0], 1e-9)
        cpu_pct = 100.0 * (cpu - self._last[1]) / wall
        self._last = (now, cpu)
        gpu_mem = torch.cuda.memory_allocated() if torch.cuda.is_initialized() else ""
        self.rows.append({
            "time_unix": round(time.time(), 3), "elapsed_sec": round(time.time() - self._t0, 3),
            "phase": self.phase, "cpu_percent": round(cpu_pct, 1),
            "rss_bytes": _core.host_stats()["rss_bytes"],
            # NVML utilisation and power are not read yet: recorded as absent.
            "gpu_util_percent": "", "gpu_mem_bytes": gpu_mem, "gpu_power_w": "",
        })

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> list[dict]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.sample()
        return self.rows
