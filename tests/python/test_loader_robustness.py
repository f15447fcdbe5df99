"""Loader robustness: Ctrl-C stops iteration promptly with no thread left,
an abandoned iterator leaks no thread, and memory stays bounded by the
prefetch depth."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import nairrcore


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_abandoned_iterator_stops_its_threads():
    x, y = torch.randn(200_000, 37), torch.randn(200_000, 3)
    base = _threads()
    loader = nairrcore.TabularLoader(x, y, batch_size=1024, workers=3, prefetch=4)
    it = iter(loader)
    next(it), next(it)
    assert _threads() >= base + 3  # the workers are running
    del it
    gc.collect()
    assert _threads() == base


def test_memory_is_bounded_by_the_prefetch_depth():
    from nairrcore._native import core

    rows, batch, workers, prefetch = 400_000, 16_384, 2, 4
    x, y = torch.randn(rows, 37), torch.randn(rows, 3)
    loader = nairrcore.TabularLoader(x, y, batch_size=batch, workers=workers, prefetch=prefetch)

    def epoch(e):
        loader.set_epoch(e)
        for _ in loader:
            time.sleep(0.002)  # a slow consumer: the workers run ahead as far as allowed
        return core.host_stats()["rss_bytes"]

    for e in range(3):  # the buffer pool fills up
        base = epoch(e)
    peak = max(epoch(e) for e in range(3, 9))
    # nine epochs are 225 batches; the pool reuses its buffers: the prefetched
    # ones, the one handed out and the one the consumer still holds
    assert loader.host_allocations <= prefetch + 2, loader.host_allocations
    batch_bytes = batch * (37 + 3) * 4
    assert peak - base < (prefetch + workers + 2) * batch_bytes, (peak - base) / batch_bytes


def test_batches_kept_by_the_caller_stay_valid_and_are_not_reused():
    x = torch.arange(50_000 * 37, dtype=torch.float32).reshape(50_000, 37)
    y = torch.arange(50_000 * 3, dtype=torch.float32).reshape(50_000, 3)
    loader = nairrcore.TabularLoader(x, y, batch_size=1000, workers=2, prefetch=2, shuffle=False)
    kept = list(loader)  # every batch held at once: none may be overwritten
    assert torch.equal(torch.cat([b[0] for b in kept]), x)
    assert torch.equal(torch.cat([b[1] for b in kept]), y)
    assert loader.host_allocations == len(kept)
    del kept
    allocated = loader.host_allocations
    for _ in loader:  # the pool's buffers are free again and reused
        pass
    assert loader.host_allocations == allocated


# The child installs Python's own Ctrl-C handler: started from a background job
# of a non-interactive shell (as CI runners may), it inherits SIGINT ignored.
# One worker gathering large batches for a consumer that does nothing keeps the
# main thread waiting inside the loader, where the signal must reach it; the
# epochs repeat without end, so only the interrupt stops the loop. The child
# stamps the moment it caught the interrupt: the interpreter's own teardown
# afterwards is not the loader's latency.
SCRIPT = textwrap.dedent("""
    import os, signal, sys, time, torch, nairrcore
    signal.signal(signal.SIGINT, signal.default_int_handler)
    x, y = torch.randn(1_000_000, 37), torch.randn(1_000_000, 3)
    base = len(os.listdir("/proc/self/task"))
    loader = nairrcore.TabularLoader(x, y, batch_size=65_536, workers=1, prefetch=1)
    print("ready", flush=True)
    epoch = 0
    try:
        while True:
            loader.set_epoch(epoch)
            for xb, yb in loader:
                pass
            epoch += 1
    except KeyboardInterrupt:
        caught = time.time()
        print("interrupted", len(os.listdir("/proc/self/task")) - base, repr(caught), flush=True)
""")


@pytest.mark.slow
def test_ctrl_c_stops_iteration_within_a_second_and_leaves_no_thread():
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    sent = time.time()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("Ctrl-C did not stop the loader's iteration within 30 s")
    assert proc.returncode == 0, err[-2000:]
    word, threads_left, caught = out.split()
    assert word == "interrupted"
    assert threads_left == "0"  # no loader thread left behind
    assert float(caught) - sent < 1.0, f"the interrupt reached Python {float(caught) - sent:.2f} s after the signal"
