"""DeviceLoader and batched augmentation: shapes, normalisation, coverage, determinism, crop geometry,
subset views and the streaming fallback. CPU only; every store here is a few hundred tiny images."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pipeline.data import augment
from pipeline.data.loader import DeviceLoader
from pipeline.data.store import Store, write_store
from pipeline.errors import DatasetError


def _store(tmp_path, images: np.ndarray, labels=None, n_val: int = 0, name: str = "t") -> Store:
    n = len(images)
    labels = np.arange(n) % 10 if labels is None else labels
    splits = ["train"] * (n - n_val) + ["val"] * n_val
    return write_store(tmp_path / name, images, labels, splits, [f"c{i}" for i in range(10)], name=name)


def _index_images(n: int, size: int = 32) -> np.ndarray:
    """Constant images that encode their row: R = i % 256, G = i // 256, B = 255 - i % 256."""
    i = np.arange(n)
    colour = np.stack([i % 256, i // 256, 255 - i % 256], axis=1).astype(np.uint8)
    return np.broadcast_to(colour[:, None, None, :], (n, size, size, 3)).copy()


def _denormalize(x: torch.Tensor, store: Store) -> np.ndarray:
    """Back to 0..255 NHWC uint8 (exact for pixels that were integers)."""
    mean = torch.tensor(store.mean).view(1, 3, 1, 1)
    std = torch.tensor(store.std).view(1, 3, 1, 1)
    pixels = (x.float() * std + mean) * 255
    return pixels.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _decode_rows(x: torch.Tensor, store: Store) -> np.ndarray:
    """Row numbers of `_index_images` batches, read from the centre pixel (never padding for pad ≤ 4)."""
    centre = _denormalize(x, store)[:, 16, 16, :].astype(np.int64)
    return centre[:, 0] + 256 * centre[:, 1]


def _all(loader: DeviceLoader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ys)


@pytest.fixture
def index_store(tmp_path) -> Store:
    return _store(tmp_path, _index_images(300), n_val=50)


def test_shapes_dtypes_layout_and_len(index_store):
    loader = DeviceLoader(index_store, "train", batch_size=64, train=True, crop_size=32, seed=0)
    assert len(loader) == 250 // 64 and loader.drop_last  # train drops the ragged batch by default
    batches = list(loader)
    assert len(batches) == len(loader)
    x, y = batches[0]
    assert x.shape == (64, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.is_contiguous(memory_format=torch.channels_last)
    flat = DeviceLoader(
        index_store, "val", batch_size=16, train=False, crop_size=32, seed=0, channels_last=False
    )
    assert len(flat) == 4 and [len(b[1]) for b in flat] == [16, 16, 16, 2]
    assert next(iter(flat))[0].is_contiguous()
    tiny = DeviceLoader(index_store, "val", batch_size=64, train=True, crop_size=32, seed=0)
    assert len(tiny) == 1 and len(next(iter(tiny))[1]) == 50  # smaller than a batch: one partial batch
    half = DeviceLoader(
        index_store, "val", batch_size=16, train=False, crop_size=32, seed=0, dtype=torch.bfloat16
    )
    assert next(iter(half))[0].dtype == torch.bfloat16


def test_normalisation_of_constant_images(tmp_path):
    values = np.array([[10, 200, 30], [250, 0, 128], [90, 90, 90], [0, 255, 60]], dtype=np.uint8)
    images = np.broadcast_to(values[np.arange(40) % 4][:, None, None, :], (40, 32, 32, 3)).copy()
    store = _store(tmp_path, images, labels=np.arange(40) % 4)
    mean, std = np.array(store.mean), np.array(store.std)
    assert np.allclose(mean, values.mean(0) / 255) and np.allclose(std, (values / 255).std(0))
    x, y = _all(DeviceLoader(store, "train", batch_size=7, train=False, crop_size=32, seed=0))
    expected = (values[y.numpy()] / 255 - mean) / std  # (N, 3)
    assert torch.allclose(
        x, torch.tensor(expected, dtype=torch.float32)[:, :, None, None].expand_as(x), atol=1e-5
    )
    # the whole normalised split has mean 0 and std 1 per channel
    assert torch.allclose(x.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(x.std((0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)
    # training output: every pixel is the image's value or zero padding
    xt, yt = _all(DeviceLoader(store, "train", batch_size=8, train=True, crop_size=32, seed=1))
    pixels = _denormalize(xt, store)
    own = values[yt.numpy()][:, None, None, :]
    assert np.all((pixels == own).all(-1) | (pixels == 0).all(-1))
    assert (pixels == 0).all(-1).any()  # some padding was cropped in


def test_every_training_index_once_per_epoch(index_store):
    loader = DeviceLoader(
        index_store, "train", batch_size=64, train=True, crop_size=32, seed=3, drop_last=False
    )
    assert len(loader) == 4
    for epoch in range(2):
        loader.set_epoch(epoch)
        x, y = _all(loader)
        rows = _decode_rows(x, index_store)
        assert sorted(rows.tolist()) == list(range(250))  # the 250 training rows, each once
        assert torch.equal(y, torch.from_numpy(index_store.labels[rows]))
        assert not np.array_equal(rows, np.arange(250))  # shuffled


def test_determinism_and_epochs(index_store):
    def epoch_of(seed: int, epoch: int) -> torch.Tensor:
        loader = DeviceLoader(index_store, "train", batch_size=50, train=True, crop_size=32, seed=seed)
        loader.set_epoch(epoch)
        return _all(loader)[0]

    a = epoch_of(0, 0)
    assert torch.equal(a, epoch_of(0, 0))
    assert not torch.equal(a, epoch_of(0, 1))
    assert not torch.equal(a, epoch_of(1, 0))
    loader = DeviceLoader(index_store, "train", batch_size=50, train=True, crop_size=32, seed=0)
    assert torch.equal(_all(loader)[0], _all(loader)[0])  # no set_epoch: the same epoch again


def test_flip_pad_crop_is_a_window_of_the_padded_image():
    yy, xx = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    gradient = np.stack([yy * 7 + 10, xx * 7 + 10, yy + xx], axis=-1).astype(np.uint8)  # unique per pixel
    batch = torch.from_numpy(np.broadcast_to(gradient, (200, 32, 32, 3)).copy())
    gen = augment.seeded_generator(0, 0, "cpu")
    for mode, np_mode in (("zero", "constant"), ("reflect", "reflect")):
        out = augment.flip_pad_crop(batch, 32, pad=4, generator=gen, mode=mode).numpy()
        padded = np.pad(gradient, ((4, 4), (4, 4), (0, 0)), mode=np_mode)
        candidates = {
            (y0, x0, flip): padded[y0 : y0 + 32, x0 : x0 + 32][:, :: -1 if flip else 1]
            for y0 in range(9)
            for x0 in range(9)
            for flip in (False, True)
        }
        keys = list(candidates)
        stack = np.stack([candidates[k] for k in keys]).reshape(len(keys), -1)
        seen = []
        for crop in out:
            hits = np.flatnonzero((stack == crop.reshape(1, -1)).all(1))
            assert len(hits) == 1, f"{mode}: a crop is not exactly one (flipped) window of the padded image"
            seen.append(keys[hits[0]])
        assert {flip for *_, flip in seen} == {False, True}
        assert len({(y0, x0) for y0, x0, _ in seen}) > 30  # many of the 81 offsets occur
    # the loader's fast path (zero padding read from a blank image kept after the data) is the same
    with_blank = torch.cat([batch, torch.zeros_like(batch[:1])])
    a = augment.flip_pad_crop(batch, 32, pad=4, generator=augment.seeded_generator(1, 0, "cpu"))
    b = augment.flip_pad_crop(
        with_blank,
        32,
        pad=4,
        generator=augment.seeded_generator(1, 0, "cpu"),
        index=torch.arange(200),
        blank_last=True,
    )
    assert torch.equal(a, b)


def test_resize_when_crop_differs_from_small_store(index_store):
    loader = DeviceLoader(index_store, "train", batch_size=32, train=True, crop_size=24, seed=0)
    assert loader.resident_hw == (24, 24)
    x, _ = next(iter(loader))
    assert x.shape == (32, 3, 24, 24)
    val = DeviceLoader(index_store, "val", batch_size=32, train=False, crop_size=24, seed=0)
    assert next(iter(val))[0].shape == (32, 3, 24, 24)


def test_eval_small_is_identity_and_deterministic(tmp_path, rng):
    images = rng.integers(0, 256, (60, 32, 32, 3), dtype=np.uint8)
    store = _store(tmp_path, images, n_val=20)
    loader = DeviceLoader(store, "val", batch_size=8, train=False, crop_size=32, seed=0)
    x, y = _all(loader)
    assert np.array_equal(_denormalize(x, store), images[40:])
    assert torch.equal(y, torch.from_numpy(store.labels[40:]))
    loader.set_epoch(5)
    assert torch.equal(_all(loader)[0], x)


def test_random_resized_crop_large_images(tmp_path, rng):
    images = rng.integers(0, 256, (48, 96, 80, 3), dtype=np.uint8)
    store = _store(tmp_path, images, n_val=16)
    loader = DeviceLoader(store, "train", batch_size=16, train=True, crop_size=56, seed=0)
    x, _ = _all(loader)
    assert x.shape == (32, 3, 56, 56) and torch.isfinite(x).all()
    lo = (0 - torch.tensor(store.mean)) / torch.tensor(store.std)
    hi = (1 - torch.tensor(store.mean)) / torch.tensor(store.std)
    per_channel = x.permute(1, 0, 2, 3).reshape(3, -1)
    assert (per_channel.min(1).values >= lo - 1e-4).all() and (per_channel.max(1).values <= hi + 1e-4).all()
    loader.set_epoch(1)
    assert not torch.equal(_all(loader)[0], x)

    boxes = augment.random_resized_boxes(
        4000, 96, 80, generator=augment.seeded_generator(0, 0, "cpu"), device="cpu"
    )
    y0, x0, bh, bw = boxes.T
    assert (y0 >= 0).all() and (x0 >= 0).all() and (y0 + bh <= 96).all() and (x0 + bw <= 80).all()
    area = (bh * bw).double() / (96 * 80)
    assert area.min() > 0.06 and area.max() <= 1.0 and area.std() > 0.15  # 0.08..1 up to rounding
    aspect = bw.double() / bh.double()
    assert aspect.min() > 0.7 and aspect.max() < 1.45


def test_resample_boxes_geometry(rng):
    images = torch.from_numpy(rng.integers(0, 256, (3, 3, 20, 20)).astype(np.float32))
    full = torch.tensor([[0, 0, 20, 20]] * 3)
    assert torch.allclose(augment.resample_boxes(images, full, 20, None), images, atol=1e-3)
    flip = torch.tensor([True, False, True])
    out = augment.resample_boxes(images, full, 20, flip)
    assert torch.allclose(out[0], images[0].flip(-1), atol=1e-3) and torch.allclose(
        out[1], images[1], atol=1e-3
    )
    window = torch.tensor([[2, 5, 10, 10]] * 3)  # integer scale 1: an exact sub-window
    assert torch.allclose(
        augment.resample_boxes(images, window, 10, None), images[:, :, 2:12, 5:15], atol=1e-3
    )


def test_eval_large_is_resize_then_centre_crop(tmp_path, rng):
    images = rng.integers(0, 256, (24, 64, 96, 3), dtype=np.uint8)
    images[:, :, :, :] = np.arange(96, dtype=np.uint8)[None, None, :, None]  # column index everywhere
    store = _store(tmp_path, images, n_val=24)
    # crop 56 → short side 64 (no resize for 64-high images), centre 56 of 96 wide: columns 20..75
    loader = DeviceLoader(store, "val", batch_size=10, train=False, crop_size=56, seed=0)
    x, _ = _all(loader)
    assert x.shape == (24, 3, 56, 56)
    assert np.array_equal(_denormalize(x, store)[0, 0, :, 0], np.arange(20, 76))
    assert torch.equal(_all(loader)[0], x)
    small = DeviceLoader(store, "val", batch_size=10, train=False, crop_size=28, seed=0)  # short side 32
    assert _all(small)[0].shape == (24, 3, 28, 28)


def test_subset_view_store(index_store):
    keep = np.zeros(300, dtype=bool)
    keep[::3] = True
    splits = np.where(keep, index_store.splits, "")  # rows outside the view belong to no split
    labels = np.where(keep, index_store.labels % 2, 0)  # remapped labels, as a variant would
    view = dataclasses.replace(index_store, splits=splits, labels=labels)
    loader = DeviceLoader(view, "train", batch_size=16, train=True, crop_size=32, seed=0, drop_last=False)
    x, y = _all(loader)
    rows = _decode_rows(x, view)
    assert sorted(rows.tolist()) == [r for r in range(250) if r % 3 == 0]
    assert torch.equal(y, torch.from_numpy(rows % 10 % 2))


def test_streaming_fallback_matches_resident(index_store):
    kwargs = dict(batch_size=16, train=True, crop_size=32, seed=4, drop_last=False, stream_chunk_batches=3)
    resident = DeviceLoader(index_store, "train", **kwargs)
    streamed = DeviceLoader(index_store, "train", max_resident_bytes=1000, **kwargs)
    assert not resident.streaming and streamed.streaming and streamed.images is None
    for epoch in (0, 1):
        resident.set_epoch(epoch)
        streamed.set_epoch(epoch)
        xr, yr = _all(resident)
        xs, ys = _all(streamed)
        assert sorted(ys.tolist()) == sorted(index_store.labels[:250].tolist())  # same multiset of labels
        assert torch.equal(xs, xr) and torch.equal(ys, yr)  # in fact the same batches
    it = iter(streamed)  # stopping early must not leave the reader thread blocked
    next(it)
    it.close()
    val = DeviceLoader(
        index_store, "val", batch_size=16, train=False, crop_size=32, seed=0, max_resident_bytes=0
    )
    assert torch.equal(
        _all(val)[0],
        _all(DeviceLoader(index_store, "val", batch_size=16, train=False, crop_size=32, seed=0))[0],
    )


def test_streaming_large_images_matches_resident(tmp_path, rng):
    store = _store(tmp_path, rng.integers(0, 256, (70, 80, 72, 3), dtype=np.uint8), n_val=20)
    for train in (True, False):  # random-resized crop with drop_last; eval resize + centre crop
        kwargs = dict(batch_size=8, train=train, crop_size=40, seed=2, stream_chunk_batches=2)
        resident = DeviceLoader(store, "train" if train else "val", **kwargs)
        streamed = DeviceLoader(store, "train" if train else "val", max_resident_bytes=0, **kwargs)
        assert len(resident) == len(streamed) == (6 if train else 3)
        xr, yr = _all(resident)
        xs, ys = _all(streamed)
        assert torch.equal(xs, xr) and torch.equal(ys, yr)


def test_bad_arguments(index_store):
    view = dataclasses.replace(index_store, splits=np.full(300, "train", dtype=object))
    with pytest.raises(DatasetError, match="empty"):
        DeviceLoader(view, "val", batch_size=8, train=False, crop_size=32, seed=0)
    with pytest.raises(ValueError, match="pad_mode"):
        DeviceLoader(index_store, "train", batch_size=8, train=True, crop_size=32, seed=0, pad_mode="edge")
    with pytest.raises(DatasetError, match="unknown split"):
        DeviceLoader(index_store, "test", batch_size=8, train=False, crop_size=32, seed=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_resident_matches_shapes(index_store):
    loader = DeviceLoader(
        index_store, "train", batch_size=64, train=True, crop_size=32, seed=0, device="cuda"
    )
    assert loader.images is not None and loader.images.is_cuda
    x, y = next(iter(loader))
    assert x.is_cuda and y.is_cuda and x.shape == (64, 3, 32, 32)
    rows = _decode_rows(
        _all(
            DeviceLoader(
                index_store,
                "train",
                batch_size=64,
                train=True,
                crop_size=32,
                seed=0,
                device="cuda",
                drop_last=False,
            )
        )[0].cpu(),
        index_store,
    )
    assert sorted(rows.tolist()) == list(range(250))
