"""Python face of the C++ TabularLoader."""

from __future__ import annotations

from typing import Iterator

import torch

from nairrcore._native import core as _core


class TabularLoader:
    """Shuffled batches of ``(x, y)`` rows, gathered by C++ threads.

    The order of an epoch is fixed by ``(seed, epoch)``; call ``set_epoch`` at
    the start of every epoch (as with ``DistributedSampler``). On a GPU, data
    already on the device is gathered there (resident mode); CPU data is
    gathered into pinned buffers by ``workers`` threads and copied
    asynchronously. A yielded batch stays valid while you hold it.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, device: str | torch.device = "cpu",
                 shuffle: bool = True, drop_last: bool = False, seed: int = 42, workers: int = 1,
                 prefetch: int = 4, rank: int = 0, world_size: int = 1, progress: bool = False) -> None:
        self._impl = _core.TabularLoader(x, y, str(torch.device(device)), batch_size, shuffle, drop_last,
                                         seed, workers, prefetch, rank, world_size)
        self.progress = progress

    def __len__(self) -> int:
        return self._impl.num_batches

    @property
    def num_samples(self) -> int:
        return self._impl.num_samples

    @property
    def resident(self) -> bool:
        return self._impl.resident

    def set_epoch(self, epoch: int) -> None:
        self._impl.set_epoch(epoch)

    def state_dict(self) -> dict:
        return dict(self._impl.state())

    def load_state_dict(self, state: dict) -> None:
        self._impl.load_state(state)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        start = self._impl.state()["next_batch"]
        self._impl.begin()
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(self), initial=start, unit="batch", leave=False)
        try:
            while (batch := self._impl.next()) is not None:
                if bar is not None:
                    bar.update(1)
                yield batch
        finally:
            if bar is not None:
                bar.close()
            self._impl.stop()
