"""The downsampled-ImageNet file format of Chrabaszcz, Loshchilov & Hutter 2017 (C17; STUDY.md §7).

Files `train_data_batch_1` ... `train_data_batch_10` and `val_data`, each a pickled dict (or an `.npz` with
the same keys):
- `data`: uint8 (N, 3·s·s), channel-planar rows (all R, then all G, then all B, each row-major), as CIFAR;
- `labels`: list of int 1..1000 in the line order of the devkit's `map_clsloc.txt` (1 = n02119789);
- `mean`: float64 (3·s·s,), the mean training image (same layout), in every training file; not in val_data.
Training images are shuffled globally; files 1–9 hold N//10 images each, file 10 the rest.

This module writes and reads that format (pickles through the restricted unpickler); `downsample.py` makes
the images, `readers/c17.py` turns the files back into a dataset.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline import fsio
from pipeline.data.safe_pickle import load_dict
from pipeline.errors import DatasetError

NUM_TRAIN_FILES = 10
TRAIN_FILES = tuple(f"train_data_batch_{i}" for i in range(1, NUM_TRAIN_FILES + 1))
VAL_FILE = "val_data"
MAP_FILE = "map_clsloc.txt"
_WNID = re.compile(r"^n\d{8}$")


def load_class_map(path: str | Path) -> list[str]:
    """The wnids of a `map_clsloc.txt` (`wnid index name` per line) in line order; index i+1 = label i+1."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"class map {path} does not exist; it is data/map_clsloc.txt of the ILSVRC devkit")
    wnids = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2 or not _WNID.match(fields[0]) or fields[1] != str(len(wnids) + 1):
            raise DatasetError(f"{path}:{number}: expected 'wnid index name' with index {len(wnids) + 1}")
        wnids.append(fields[0])
    if len(set(wnids)) != len(wnids):
        raise DatasetError(f"{path}: duplicate wnids")
    return wnids


def to_planar(images: np.ndarray) -> np.ndarray:
    """uint8 (N, s, s, 3) -> (N, 3·s·s) channel-planar rows."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(
        len(images), 3 * images.shape[1] * images.shape[2]
    )


def from_planar(rows: np.ndarray) -> np.ndarray:
    """(N, 3·s·s) channel-planar rows -> uint8 (N, s, s, 3)."""
    size = round((rows.shape[1] / 3) ** 0.5)
    if 3 * size * size != rows.shape[1]:
        raise DatasetError(f"rows of {rows.shape[1]} values are not 3·s·s images")
    return rows.reshape(len(rows), 3, size, size).transpose(0, 2, 3, 1)


def train_file_bounds(n: int) -> list[tuple[int, int]]:
    """(start, stop) of each training file in the shuffled order: 1–9 hold n//10, file 10 the rest."""
    step = n // NUM_TRAIN_FILES
    starts = [i * step for i in range(NUM_TRAIN_FILES)]
    return [(a, starts[i + 1] if i + 1 < NUM_TRAIN_FILES else n) for i, a in enumerate(starts)]


def mean_image(images: np.ndarray, rows: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """float64 (3·s·s,) mean of the planar rows of `images[rows]` (NHWC, memmap-friendly)."""
    total = np.zeros(3 * images.shape[1] * images.shape[2], dtype=np.float64)
    for start in range(0, len(rows), chunk):
        total += to_planar(images[np.sort(rows[start : start + chunk])]).sum(axis=0, dtype=np.float64)
    return total / max(len(rows), 1)


def _gather(images: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """images[rows], read from a memmap in file order (sequential I/O) and returned in `rows` order."""
    order = np.argsort(rows, kind="stable")
    out = np.empty((len(rows), *images.shape[1:]), dtype=images.dtype)
    out[order] = images[rows[order]]
    return out


def write_file(path: Path, payload: dict, fmt: str) -> Path:
    """Write one C17 file (pickle or npz) to a temporary name and rename it."""
    final = path.with_name(path.name + (".npz" if fmt == "npz" else ""))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            if fmt == "npz":
                np.savez(f, **{k: np.asarray(v) for k, v in payload.items()})
            else:
                pickle.dump(payload, f, protocol=4)

    return fsio.write_with(final, write)


def write_c17(
    out_dir: str | Path,
    images: np.ndarray,
    labels: np.ndarray,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    *,
    seed: int = 0,
    fmt: str = "pickle",
) -> list[Path]:
    """Write the 10 training files (globally shuffled with `seed`) and val_data.

    `images` uint8 (N, s, s, 3) (a memmap is fine), `labels` int 1..1000 per row.
    """
    if fmt not in ("pickle", "npz"):
        raise DatasetError(f"C17 file format {fmt!r} is not one of ['pickle', 'npz']")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(np.asarray(train_rows, dtype=np.int64))
    mean = mean_image(images, order)
    written = []
    for name, (a, b) in zip(TRAIN_FILES, train_file_bounds(len(order)), strict=True):
        rows = order[a:b]
        payload = {"data": to_planar(_gather(images, rows)), "labels": labels[rows].tolist(), "mean": mean}
        written.append(write_file(out_dir / name, payload, fmt))
    val_rows = np.asarray(val_rows, dtype=np.int64)
    written.append(
        write_file(
            out_dir / VAL_FILE,
            {"data": to_planar(_gather(images, val_rows)), "labels": labels[val_rows].tolist()},
            fmt,
        )
    )
    return written


def read_file(path: str | Path) -> dict:
    """One C17 file as a dict (`data`, `labels` as int64 array, `mean` when present); pickles read safely."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    else:
        out = load_dict(path)
    if "data" not in out or "labels" not in out:
        raise DatasetError(f"{path}: a C17 file needs 'data' and 'labels', found {sorted(out)}")
    out["data"] = np.asarray(out["data"], dtype=np.uint8)
    out["labels"] = np.asarray(out["labels"], dtype=np.int64)
    return out


def read_labels(path: str | Path) -> tuple[np.ndarray, int]:
    """(labels, row length) of a C17 file; an npz reads only `labels` and the header of `data`."""
    path = Path(path)
    if path.suffix != ".npz":
        content = read_file(path)
        return content["labels"], int(content["data"].shape[1])
    with np.load(path, allow_pickle=False) as z:
        labels = np.asarray(z["labels"], dtype=np.int64)
    with zipfile.ZipFile(path) as archive, archive.open("data.npy") as f:
        version = np.lib.format.read_magic(f)
        read_header = (
            np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        )
        shape = read_header(f)[0]
    return labels, int(shape[1])


def find_files(source: Path) -> tuple[list[Path], Path | None]:
    """The training files (in batch order) and val_data under `source` (two levels deep), npz preferred."""

    def pick(name: str) -> Path | None:
        for suffix in (".npz", ""):
            hits = sorted(source.glob(f"{name}{suffix}")) + sorted(source.glob(f"*/{name}{suffix}"))
            if hits:
                return hits[0]
        return None

    train = [p for p in (pick(name) for name in TRAIN_FILES) if p is not None]
    return train, pick(VAL_FILE)


def find_class_map(source: Path) -> Path | None:
    hits = sorted(source.glob(MAP_FILE)) + sorted(source.glob(f"*/{MAP_FILE}"))
    return hits[0] if hits else None


def check_sizes(paths: Sequence[Path], lengths: Sequence[int], size: int) -> None:
    for path, length in zip(paths, lengths, strict=True):
        if length != 3 * size * size:
            found = round((length / 3) ** 0.5)
            raise DatasetError(f"{path} holds {found}×{found} images, this dataset expects {size}×{size}")
