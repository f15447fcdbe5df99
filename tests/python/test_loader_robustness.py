"""Loader robustness, each on a loaded machine: Ctrl-C stops iteration
promptly and joins the workers before it leaves the loader, an abandoned
iterator joins its threads, and memory stays bounded by the prefetch depth."""

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

from conftest import wait_for_threads


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.parametrize("how", ["del", "close", "exception"])
def test_abandoned_iterator_joins_its_threads(cpu_burner, how):
    x, y = torch.randn(200_000, 37), torch.randn(200_000, 3)
    base = _threads()
    loader = nairrcore.TabularLoader(x, y, batch_size=1024, workers=3, prefetch=4)
    it = iter(loader)
    next(it), next(it)
    assert loader.worker_threads == 3 and _threads() >= base + 3  # the workers are running
    if how == "del":
        del it
        gc.collect()
    elif how == "close":
        it.close()
    else:
        with pytest.raises(RuntimeError):
            for _ in it:
                raise RuntimeError("the consumer fails")
        del it
    assert loader.worker_threads == 0  # joined before control came back
    assert wait_for_threads(base) == base


def test_memory_is_bounded_by_the_prefetch_depth(cpu_burner):
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
# main thread mostly waiting inside the loader, but the interrupt may land
# anywhere: in the loader's wait, between batches, in set_epoch. The child
# stamps the moment it caught the interrupt (the interpreter's teardown after
# is not the loader's latency) and the loader's unjoined workers at that moment.
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
        joined = loader.worker_threads
        deadline = time.monotonic() + 5
        while len(os.listdir("/proc/self/task")) > base and time.monotonic() < deadline:
            time.sleep(0.005)
        print("interrupted", joined, len(os.listdir("/proc/self/task")) - base, repr(caught), flush=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 0.77, 1.0, 1.31])
def test_ctrl_c_joins_the_workers_before_it_leaves_the_loader(cpu_burner, delay):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)  # different moments land the signal in different places
    sent = time.time()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("Ctrl-C did not stop the loader's iteration within 60 s")
    assert proc.returncode == 0, err[-2000:]
    word, unjoined, threads_left, caught = out.split()
    assert word == "interrupted"
    assert unjoined == "0"  # joined before KeyboardInterrupt left the loader
    assert threads_left == "0"  # and gone from the process
    # The loader polls for signals every 100 ms; with every core busy the child
    # still gets its share of one within the second.
    assert float(caught) - sent < 1.0, f"the interrupt reached Python {float(caught) - sent:.2f} s after the signal"
