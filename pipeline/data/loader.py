"""The device loader: a store's split moved to the device once, shuffled and augmented in whole batches.

The airbench pattern for small datasets, generalised to any store: the split's uint8 images are gathered
from the memmap once (`store.images[store.split_indices(split)]`, so subset views work) and kept on the
device; each epoch is a device `randperm` under a generator seeded from (seed, epoch), batches are index
slices, and augmentation is a few tensor ops per batch (`pipeline.data.augment`). No workers, no per-image
Python. Work that does not change between epochs is done once at load: resizing small images whose size
differs from `crop_size`, and the eval resize + centre crop of large images.

When the split does not fit `max_resident_bytes` (default: half the device's memory), the loader streams
instead: a background thread reads each chunk of the epoch's permutation from the memmap (rows read in
file order, then put back in permutation order) and hands it to the same batching and augmentation code.
Both modes consume the generator identically, so they yield identical batches for a seed and epoch.

Measured (tests/benchmarks/bench_loader.py, BENCHMARKS.md "### Loader"): on the project's shared 2-core
CPU machine, augmented 32×32 training batches of 256 at ~37,000 img/s (1 torch thread, load average 5),
23× torchvision ImageFolder + DataLoader(num_workers=2) over the same images; ~90,000–170,000 img/s unloaded.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator

import numpy as np
import torch

from pipeline.data import augment
from pipeline.data.store import Store
from pipeline.errors import DatasetError

LOAD_CHUNK_BYTES = 64 << 20  # stored bytes moved per loading step (bounds the staging copy and resize)
STREAM_CHUNK_BYTES = 256 << 20  # at most this much of a streamed epoch per read-ahead chunk


def default_resident_budget(device: torch.device) -> int:
    """Half of the device's free memory (CUDA) or of the machine's physical memory (CPU), in bytes."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free // 2
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 4 << 30


class DeviceLoader:
    """Batches `(images, labels)` of one split: float N×3×crop×crop normalised with the store's mean/std,
    int64 labels, both on `device`.

    train=True: shuffled each epoch, random flip + padded random crop (images ≤ 64 px; `pad` px, `pad_mode`
    "zero" like torchvision or "reflect") or random-resized crop (larger images), drop_last by default.
    train=False: store order, no randomness; identity for small images (resized to crop_size if it differs),
    short-side resize to round(crop/0.875) + centre crop for large ones; all batches kept by default.
    `set_epoch(e)` picks the epoch; iterating twice without it repeats the same epoch exactly.
    """

    def __init__(
        self,
        store: Store,
        split: str,
        *,
        batch_size: int,
        train: bool,
        crop_size: int,
        seed: int,
        device: str | torch.device = "cpu",
        channels_last: bool = True,
        drop_last: bool | None = None,
        dtype: torch.dtype = torch.float32,
        pad: int = 4,
        pad_mode: str = "zero",
        max_resident_bytes: int | None = None,
        stream_chunk_batches: int = 16,
    ) -> None:
        if batch_size < 1 or crop_size < 1:
            raise ValueError(f"batch_size and crop_size must be positive, got {batch_size} and {crop_size}")
        if pad_mode not in augment.PAD_MODES:
            raise ValueError(f"pad_mode {pad_mode!r} is not one of {augment.PAD_MODES}")
        self.store, self.split, self.train = store, split, train
        self.batch_size, self.crop_size, self.seed = batch_size, crop_size, seed
        self.device = torch.device(device)
        self.channels_last, self.dtype, self.pad, self.pad_mode = channels_last, dtype, pad, pad_mode
        self.drop_last = train if drop_last is None else drop_last
        self.epoch = 0
        self.rows = store.split_indices(split)  # rows of store.images (a subset view selects some)
        if len(self.rows) == 0:
            raise DatasetError(f"split {split!r} of store {store.name!r} is empty; nothing to load")
        self.stored_hw = (int(store.images.shape[1]), int(store.images.shape[2]))
        self.small = max(self.stored_hw) <= augment.SMALL_IMAGE_MAX
        self.mean, self.std = store.mean, store.std
        self.labels = torch.from_numpy(store.labels[self.rows].astype(np.int64)).to(self.device)
        image_bytes = self.stored_hw[0] * self.stored_hw[1] * 3
        per_chunk = min(stream_chunk_batches, STREAM_CHUNK_BYTES // (batch_size * image_bytes))
        self.stream_chunk = max(1, per_chunk) * batch_size  # whole batches, so chunks never split one
        h, w = self.resident_hw
        nbytes = len(self.rows) * h * w * 3
        budget = default_resident_budget(self.device) if max_resident_bytes is None else max_resident_bytes
        self.streaming = nbytes > budget
        # uint8 (N + 1)×3×H×W in channels_last memory (the store's NHWC bytes), the last image blank
        self._resident = None if self.streaming else self._load(self.rows)
        self.images: torch.Tensor | None = None if self._resident is None else self._resident[:-1]

    # ---- sizes ---------------------------------------------------------------------------------------
    @property
    def resident_hw(self) -> tuple[int, int]:
        """Size of the images kept between epochs (after the one-off resize/centre crop)."""
        if self.small and self.stored_hw != (self.crop_size, self.crop_size):
            return (self.crop_size, self.crop_size)
        if not self.small and not self.train:
            return (self.crop_size, self.crop_size)
        return self.stored_hw

    def __len__(self) -> int:
        """Batches per epoch. drop_last drops only a ragged last batch: a split smaller than one batch
        still gives one (partial) batch rather than an epoch with no steps."""
        n = len(self.rows)
        return max(1, n // self.batch_size) if self.drop_last else -(-n // self.batch_size)

    def set_seed(self, seed: int) -> None:
        """Make later epochs those of a run with `seed` (the resident images stay where they are)."""
        self.seed = int(seed)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch `epoch`: its order and augmentation depend on (seed, epoch) only."""
        self.epoch = int(epoch)

    # ---- loading -------------------------------------------------------------------------------------
    def _prepare(self, nhwc: np.ndarray) -> torch.Tensor:
        """uint8 NHWC host rows → resident uint8 NCHW (channels_last) on the device, resized if needed."""
        x = torch.from_numpy(np.ascontiguousarray(nhwc))
        if self.device.type == "cuda":
            x = x.pin_memory()
        x = x.to(self.device, non_blocking=True).permute(0, 3, 1, 2)
        if self.small and self.stored_hw != (self.crop_size, self.crop_size):
            x = augment.resize_short_center_crop(x, self.crop_size, short=self.crop_size)
        elif not self.small and not self.train:
            x = augment.resize_short_center_crop(x, self.crop_size)
        return x.contiguous(memory_format=torch.channels_last)

    def _load(self, rows: np.ndarray) -> torch.Tensor:
        """Rows of the store as resident uint8 NCHW (channels_last), plus one blank (zero) image after
        them: the padded crop reads its zero padding from it (`augment.flip_pad_crop(blank_last=True)`)."""
        h, w = self.resident_hw
        out = torch.empty((len(rows) + 1, 3, h, w), dtype=torch.uint8, device=self.device)
        out = out.contiguous(memory_format=torch.channels_last)
        out[-1] = 0
        step = max(1, LOAD_CHUNK_BYTES // (self.stored_hw[0] * self.stored_hw[1] * 3))
        for start in range(0, len(rows), step):
            block = rows[start : start + step]
            out[start : start + len(block)] = self._prepare(_read_rows(self.store.images, block))
        return out

    # ---- iteration -----------------------------------------------------------------------------------
    def _order(self, gen: torch.Generator) -> torch.Tensor:
        n = len(self.rows)
        if self.train:
            return torch.randperm(n, generator=gen, device=self.device)
        return torch.arange(n, device=self.device)

    def _batch(self, images: torch.Tensor, sel: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Augment the uint8 NCHW (channels_last) rows `images[sel]` and normalise them (`images[-1]` is
        the blank image of `_load`)."""
        if self.train and self.small:  # the row gather is folded into the crop gather
            nhwc = images.permute(0, 2, 3, 1)  # a view: the memory is NHWC
            x = augment.flip_pad_crop(
                nhwc,
                self.crop_size,
                pad=self.pad,
                generator=gen,
                mode=self.pad_mode,
                index=sel,
                blank_last=True,
            ).permute(0, 3, 1, 2)
        elif self.train:
            x = augment.random_resized_crop(
                images.index_select(0, sel).permute(0, 2, 3, 1), self.crop_size, generator=gen
            )
        else:
            x = images.index_select(0, sel)
        return augment.normalize(x, self.mean, self.std, dtype=self.dtype, channels_last=self.channels_last)

    def _spans(self) -> list[tuple[int, int]]:
        n, bs = len(self.rows), self.batch_size
        return [(s, min(s + bs, n)) for s in range(0, len(self) * bs, bs)]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        gen = augment.seeded_generator(self.seed, self.epoch, self.device)
        order = self._order(gen)
        if self.streaming:
            yield from self._iter_streaming(order, gen)
            return
        assert self._resident is not None
        for start, stop in self._spans():
            sel = order[start:stop]
            yield self._batch(self._resident, sel, gen), self.labels.index_select(0, sel)

    def _iter_streaming(self, order: torch.Tensor, gen: torch.Generator):
        """Same batches as the resident path, with chunks of the permutation read ahead on a thread."""
        order_np = order.cpu().numpy()
        spans = self._spans()
        used = spans[-1][1] if spans else 0
        chunks = [(s, min(s + self.stream_chunk, used)) for s in range(0, used, self.stream_chunk)]
        ready: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()

        def produce() -> None:
            try:
                for c0, c1 in chunks:
                    if stop.is_set():
                        return
                    rows = self.rows[order_np[c0:c1]]
                    ready.put((c0, self._load(rows)))
                ready.put(None)
            except BaseException as err:  # handed to the consumer, raised there
                ready.put(err)

        thread = threading.Thread(target=produce, name="DeviceLoader-stream", daemon=True)
        thread.start()
        try:
            while (item := ready.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                c0, chunk = item
                for start, stop_ in spans:
                    if c0 <= start < c0 + len(chunk) - 1:  # the last image is the blank
                        local = torch.arange(start - c0, stop_ - c0, device=self.device)
                        yield self._batch(chunk, local, gen), self.labels.index_select(0, order[start:stop_])
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    ready.get(timeout=0.05)
            thread.join()


def _read_rows(images: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """images[rows] from a memmap, read in file order (sequential I/O) and returned in `rows` order."""
    order = np.argsort(rows, kind="stable")
    out = np.empty((len(rows), *images.shape[1:]), dtype=images.dtype)
    out[order] = images[rows[order]]
    return out
