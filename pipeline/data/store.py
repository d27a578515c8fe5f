"""The packed store: a dataset decoded once into one uint8 NHWC array that training reads whole.

Layout of a store folder (the contract between prepare, synthetic data, the loader and training):

    images.npy     uint8 (N, H, W, 3), RGB, at the dataset's storage resolution (memory-mappable)
    index.parquet  one row per image: label (int32, 0..C-1 in `classes` order), split ("train" | "val"),
                   source_id (str: where the image came from, e.g. a relative path or "file#row")
    meta.json      name, classes, resolution [H, W], mean/std (per channel, 0..1 scale, training split),
                   split {policy, seed, ...}, fingerprint, format_version, plus anything the writer adds

"val" is always the split a task is evaluated on: the official validation/test set where one exists,
otherwise the seeded hold-out. A store is written to a temporary folder and renamed into place, so a
folder named like a store is always complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import DatasetError
from pipeline.fsio import UnreadableFileError, read_json, read_table

FORMAT_VERSION = 2  # 2: the fingerprint hashes the content (images and index)
SPLITS = ("train", "val")
IMAGES_FILE, INDEX_FILE, META_FILE = "images.npy", "index.parquet", "meta.json"


@dataclass(frozen=True)
class Store:
    """An opened store. `images` is memory-mapped; index arrays are in memory."""

    path: Path
    images: np.ndarray  # uint8 (N, H, W, 3)
    labels: np.ndarray  # int64 (N,)
    splits: np.ndarray  # object/str (N,)
    source_ids: np.ndarray  # object/str (N,)
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def num_classes(self) -> int:
        return len(self.meta["classes"])

    @property
    def mean(self) -> tuple[float, float, float]:
        return tuple(self.meta["mean"])  # type: ignore[return-value]

    @property
    def std(self) -> tuple[float, float, float]:
        return tuple(self.meta["std"])  # type: ignore[return-value]

    @property
    def fingerprint(self) -> str:
        """Identity of the content that defines a run: classes, split policy and seed, resolution."""
        return str(self.meta["fingerprint"])

    def split_indices(self, split: str) -> np.ndarray:
        """Row indices of one split, in store order."""
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r} in store {self.name!r}; choose one of {SPLITS}")
        return np.flatnonzero(self.splits == split)


def channel_mean_std(
    images: np.ndarray, chunk: int = 4096, *, rows: np.ndarray | None = None
) -> tuple[list[float], list[float]]:
    """Per-channel mean and std (0..1 scale) of uint8 NHWC images (of `rows`, sorted, when given)."""
    mean, std, _ = scan_images(images, rows=rows, chunk=chunk, digest=False)
    return mean, std


def scan_images(
    images: np.ndarray, *, rows: np.ndarray | None = None, chunk: int = 4096, digest: bool = True
) -> tuple[list[float], list[float], str]:
    """One pass over a (memmapped) image array: per-channel mean/std of `rows` (all when None) and, when
    asked, a SHA-256 of every image's bytes in order (the content part of the fingerprint).

    Exact: a per-channel histogram of the 256 byte values gives the sums (faster than float passes). The
    pass reads the array in blocks of at most 16 Mi pixels, so a memmap larger than memory is fine.
    """
    hasher = hashlib.sha256()
    hist = np.zeros((3, 256), dtype=np.int64)
    n = len(images)
    chunk = max(1, min(chunk, (1 << 24) // max(1, images.shape[1] * images.shape[2])))
    selected = None if rows is None else np.zeros(n, dtype=bool)
    if selected is not None:
        selected[rows] = True
    for start in range(0, n, chunk):
        block = np.ascontiguousarray(images[start : start + chunk], dtype=np.uint8)
        if digest:
            hasher.update(block.data)
        part = block if selected is None else block[selected[start : start + chunk]]
        flat = part.reshape(-1, 3)
        for c in range(3):
            hist[c] += np.bincount(flat[:, c], minlength=256)
    count = hist.sum(axis=1).astype(np.float64)
    if count[0] == 0:
        return [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], hasher.hexdigest() if digest else ""
    values = np.arange(256, dtype=np.float64) / 255.0
    mean = hist @ values / count
    std = np.sqrt(np.maximum(hist @ values**2 / count - mean**2, 1e-12))
    return mean.tolist(), std.tolist(), hasher.hexdigest() if digest else ""


def index_digest(index: pd.DataFrame) -> str:
    """SHA-256 of a store index (labels, splits, source ids in row order)."""
    hasher = hashlib.sha256()
    hasher.update(np.ascontiguousarray(index["label"].to_numpy(dtype=np.int64)).data)
    for column in ("split", "source_id"):
        hasher.update("\n".join(index[column].astype(str)).encode())
        hasher.update(b"\0")
    return hasher.hexdigest()


def fingerprint_of(meta: dict[str, Any]) -> str:
    """A short stable hash of what a training run sees: the images' bytes and the index (`content`),
    classes, resolution, the split policy and, for a variant view, its parent and restriction. Two stores
    with different pixels never share a fingerprint, so run keys (which include it) tell them apart."""
    identity = {
        "classes": list(meta["classes"]),
        "resolution": list(meta["resolution"]),
        "split": meta.get("split", {}),
        "num_images": int(meta["num_images"]),
        "content": meta.get("content_digest"),
        "parent": meta.get("parent_fingerprint"),
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def finalize_store(
    tmp_dir: Path,
    path: Path,
    index: pd.DataFrame,
    classes: Sequence[str],
    *,
    name: str,
    split: dict[str, Any],
    extra_meta: dict[str, Any] | None = None,
) -> Store:
    """Write index and meta beside an `images.npy` already in `tmp_dir`, then rename it to `path`.

    This is the one place a store becomes visible, so writers that fill `images.npy` incrementally
    (prepare) and writers that hold arrays in memory (`write_store`) share it.
    """
    images = np.load(tmp_dir / IMAGES_FILE, mmap_mode="r")
    _check_index(index, images, classes, name)
    index = index.reset_index(drop=True)
    train = np.flatnonzero(index["split"].to_numpy() == "train")
    mean, std, pixels = scan_images(images, rows=train if len(train) < len(images) else None)
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "classes": list(classes),
        "resolution": [int(images.shape[1]), int(images.shape[2])],
        "num_images": len(images),
        "split_counts": {s: int((index["split"] == s).sum()) for s in SPLITS},
        "mean": mean,
        "std": std,
        "split": dict(split),
        **(extra_meta or {}),
    }
    meta["content_digest"] = hashlib.sha256(f"{pixels}:{index_digest(index)}".encode()).hexdigest()
    meta["fingerprint"] = fingerprint_of(meta)
    table = pd.DataFrame(
        {
            "label": index["label"].astype("int32"),
            "split": index["split"].astype(str),
            "source_id": index["source_id"].astype(str),
        }
    )
    table.to_parquet(tmp_dir / INDEX_FILE, index=False)
    (tmp_dir / META_FILE).write_text(json.dumps(meta, indent=1))
    _fsync_tree(tmp_dir)
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp_dir, path)
    return open_store(path)


def _fsync_tree(folder: Path) -> None:
    """Flush a store's files to disk before the rename makes it visible (a crash never shows a half store)."""
    for child in folder.iterdir():
        if child.is_file():
            fd = os.open(child, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def write_store(
    path: str | Path,
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    splits: Sequence[str] | np.ndarray,
    classes: Sequence[str],
    *,
    name: str,
    source_ids: Sequence[str] | None = None,
    split: dict[str, Any] | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> Store:
    """Write a whole store from in-memory arrays (synthetic data, tests, small datasets), atomically."""
    path = Path(path)
    images = np.ascontiguousarray(images, dtype=np.uint8)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise DatasetError(f"store {name!r}: images must be uint8 (N, H, W, 3), got shape {images.shape}")
    tmp_dir = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    tmp_dir.mkdir(parents=True)
    np.save(tmp_dir / IMAGES_FILE, images)
    ids = list(source_ids) if source_ids is not None else [f"{name}#{i}" for i in range(len(images))]
    index = pd.DataFrame({"label": np.asarray(labels), "split": np.asarray(splits), "source_id": ids})
    try:
        return finalize_store(
            tmp_dir, path, index, classes, name=name, split=split or {}, extra_meta=extra_meta
        )
    finally:
        if tmp_dir.exists():  # only left behind when finalize failed
            shutil.rmtree(tmp_dir)


def _check_index(index: pd.DataFrame, images: np.ndarray, classes: Sequence[str], name: str) -> None:
    problems = []
    if len(index) != len(images):
        problems.append(f"{len(index)} index rows for {len(images)} images")
    labels = index["label"].to_numpy()
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        problems.append(f"labels must lie in 0..{len(classes) - 1}")
    bad_splits = sorted(set(index["split"].astype(str)) - set(SPLITS))
    if bad_splits:
        problems.append(f"unknown splits {bad_splits} (allowed: {list(SPLITS)})")
    if problems:
        raise DatasetError(f"store {name!r} is inconsistent: " + "; ".join(problems))


def is_store(path: str | Path) -> bool:
    """True when `path` holds a complete store (the rename in `finalize_store` guarantees completeness)."""
    path = Path(path)
    return all((path / f).is_file() for f in (IMAGES_FILE, INDEX_FILE, META_FILE))


def open_store(path: str | Path, *, hint: str | None = None) -> Store:
    """Open a store; a missing one raises DatasetError naming the folder and how to make it."""
    path = Path(path)
    if not is_store(path):
        fix = hint or f"run: python -m pipeline prepare {path.name} --source DIR"
        raise DatasetError(f"no prepared dataset at {path}; {fix}")
    fix = f"rebuild it: python -m pipeline prepare {path.name} --force ... (see datasets/README.md)"
    meta = read_json(path / META_FILE, fix=fix)
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise DatasetError(
            f"store {path} has format version {version!r}, this code reads {FORMAT_VERSION} (whose "
            f"fingerprint hashes the stored images); {fix}"
        )
    index = read_table(path / INDEX_FILE, fix=fix)
    try:
        images = np.load(path / IMAGES_FILE, mmap_mode="r")
    except (OSError, ValueError) as error:
        raise UnreadableFileError(
            f"{path / IMAGES_FILE} is not a readable image array ({error}); {fix}"
        ) from None
    if len(images) != len(index) or images.ndim != 4 or images.shape[-1] != 3:
        raise DatasetError(
            f"store {path}: {IMAGES_FILE} holds {images.shape}, the index {len(index)} rows; {fix}"
        )
    return Store(
        path=path,
        images=images,
        labels=index["label"].to_numpy(dtype=np.int64),
        splits=index["split"].to_numpy(dtype=object),
        source_ids=index["source_id"].to_numpy(dtype=object),
        meta=meta,
    )
