"""Python faces of the C++ loaders (TabularLoader, ImageLoader), and the
augmentation settings of the image loader."""

from __future__ import annotations

from typing import Iterator

import torch

from nairrcore._native import core as _core
from nairrcore.progress import progress_bar


class _Loader:
    """Iteration, epochs and resumable state shared by the loaders.

    The order of an epoch is fixed by ``(seed, epoch)``; call ``set_epoch`` at
    the start of every epoch (as with ``DistributedSampler``). A yielded batch
    stays valid while you hold it.
    """

    _impl: object
    progress: bool

    def __len__(self) -> int:
        return self._impl.num_batches

    @property
    def num_samples(self) -> int:
        return self._impl.num_samples

    @property
    def resident(self) -> bool:
        return self._impl.resident

    @property
    def host_allocations(self) -> int:
        """Host batch buffers the worker threads have allocated so far (0 in
        resident mode). They are pooled: at most ``prefetch + 2`` over any number of
        epochs, unless the caller keeps batches beyond the current one."""
        return self._impl.host_allocations

    @property
    def worker_threads(self) -> int:
        """Worker threads started and not yet joined. 0 once an epoch ends, the
        iterator is closed or Ctrl-C left it: the workers are joined before
        ``KeyboardInterrupt`` leaves the loader."""
        return self._impl.worker_threads

    def set_epoch(self, epoch: int) -> None:
        self._impl.set_epoch(epoch)

    def state_dict(self) -> dict:
        return dict(self._impl.state())

    def load_state_dict(self, state: dict) -> None:
        self._impl.load_state(state)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        bar = None
        try:  # begin() inside: an interrupt landing right after it still reaches stop()
            start = self._impl.state()["next_batch"]
            self._impl.begin()
            if self.progress:
                bar = progress_bar(total=len(self), initial=start, unit="batch", leave=False)
            while (batch := self._impl.next()) is not None:
                if bar is not None:
                    bar.update(1)
                yield batch
        finally:
            self._impl.stop()
            if bar is not None:
                bar.close()


class TabularLoader(_Loader):
    """Shuffled batches of ``(x, y)`` rows, gathered by C++ threads.

    On a GPU, data already on the device is gathered there (resident mode);
    CPU data is gathered into pinned buffers by ``workers`` threads and copied
    asynchronously.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, device: str | torch.device = "cpu",
                 shuffle: bool = True, drop_last: bool = False, seed: int = 42, workers: int = 1,
                 prefetch: int = 4, rank: int = 0, world_size: int = 1, progress: bool = False) -> None:
        self._impl = _core.TabularLoader(x, y, str(torch.device(device)), batch_size, shuffle, drop_last,
                                         seed, workers, prefetch, rank, world_size)
        self.progress = progress


def augment_spec(pad: int = 4, reflect: bool = True, flip: bool = True, cutout: int = 0,
                 mean: tuple[float, float, float] | None = None,
                 std: tuple[float, float, float] | None = None,
                 alternate_flip: bool = False) -> "_core.AugmentSpec":
    spec = _core.AugmentSpec()
    spec.pad, spec.reflect, spec.flip, spec.cutout = pad, reflect, flip, cutout
    spec.alternate_flip = alternate_flip
    if mean is not None:
        spec.mean = list(mean)
    if std is not None:
        spec.std = list(std)
    return spec


class ImageLoader(_Loader):
    """Augmented batches ``(x float32 [B,3,32,32], y int64 [B])`` of uint8 images.

    Random crop (``pad`` pixels, reflect or zero), horizontal flip, optional
    cutout and normalisation, drawn from ``(seed, epoch, image index)``. Images
    on the GPU are augmented there with batched tensor ops (resident mode);
    images on the CPU are augmented by ``workers`` C++ threads into pinned
    buffers and copied asynchronously. Both modes give the same batches.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int,
                 device: str | torch.device = "cpu", shuffle: bool = True, drop_last: bool = False, seed: int = 42,
                 workers: int = 2, prefetch: int = 4, rank: int = 0, world_size: int = 1, augment: bool = True,
                 pad: int = 4, reflect: bool = True, flip: bool = True, cutout: int = 0, channels_last: bool = False,
                 progress: bool = False) -> None:
        spec = augment_spec(pad, reflect, flip, cutout)
        self._impl = _core.ImageLoader(images, labels, str(torch.device(device)), batch_size, shuffle, drop_last,
                                       seed, workers, prefetch, rank, world_size, spec, augment, channels_last)
        self.progress = progress
