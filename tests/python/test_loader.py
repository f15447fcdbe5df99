import pytest
import torch

import nairrcore
from nairrcore import TabularLoader


def labelled(n):
    ids = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    return ids.repeat(1, 4).contiguous(), ids.repeat(1, 3).contiguous()


def rows_of(loader):
    return torch.cat([x[:, 0] for x, _ in loader]).long().tolist()


def test_every_row_once_and_order_fixed_by_seed_and_epoch(small_data):
    x, y = small_data.train.x, small_data.train.y
    loader = TabularLoader(x, y, batch_size=4096, seed=7, workers=2)
    seen = torch.cat([bx for bx, _ in loader])
    assert seen.shape == x.shape
    # the same rows, permuted: compare sorted row sums
    assert torch.equal(seen.sum(1).sort().values, x.sum(1).sort().values)
    a, b = labelled(5000)
    l1 = TabularLoader(a, b, batch_size=256, seed=7)
    l1.set_epoch(2)
    first = rows_of(l1)
    l1.set_epoch(2)
    assert rows_of(l1) == first
    l1.set_epoch(3)
    assert rows_of(l1) != first
    assert sorted(first) == list(range(5000))


def test_resume_mid_epoch_gives_identical_remainder():
    a, b = labelled(3000)
    loader = TabularLoader(a, b, batch_size=100, seed=1)
    loader.set_epoch(5)
    full = rows_of(loader)
    loader.set_epoch(5)
    it = iter(loader)
    for _ in range(7):
        next(it)
    state = loader.state_dict()
    it.close()
    assert state["next_batch"] == 7 and state["epoch"] == 5
    other = TabularLoader(a, b, batch_size=100, seed=1)
    other.load_state_dict(state)
    assert rows_of(other) == full[700:]


def test_len_and_errors():
    a, b = labelled(1000)
    assert len(TabularLoader(a, b, batch_size=300)) == 4
    assert len(TabularLoader(a, b, batch_size=300, drop_last=True)) == 3
    with pytest.raises(nairrcore.ConfigError, match="batch_size"):
        TabularLoader(a, b, batch_size=0)
    with pytest.raises(nairrcore.ConfigError, match="larger than"):
        TabularLoader(a, b, batch_size=1001)
    with pytest.raises(nairrcore.ConfigError, match="rows"):
        TabularLoader(a, b[:10], batch_size=10)


@pytest.mark.cuda
def test_gpu_resident_and_streamed_match_cpu_order():
    a, b = labelled(2000)
    cpu = rows_of(TabularLoader(a, b, batch_size=128, seed=3))
    resident = rows_of(TabularLoader(a.cuda(), b.cuda(), batch_size=128, seed=3, device="cuda"))
    streamed = rows_of(TabularLoader(a, b, batch_size=128, seed=3, device="cuda", workers=2))
    assert cpu == resident == streamed
