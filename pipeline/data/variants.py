"""Dataset variants as tasks see them: ImageNet-X class subsets, capped, balanced and fractional training
sets, and reduced resolution (the proxy ladder's rungs).

`open_dataset(data_root, dataset, variant)` opens `<data_root>/<dataset>/` and restricts it:

- `{"classes": "imagenet_x/imagenet-10.txt"}`: only the wnids listed (a file under `datasets/`, or a path);
  labels are remapped to 0..k-1 in list order, so ImageNet-10 is the same subset at every resolution;
- `{"max_per_class": 10}`: at most 10 training images per class (T22's ImageNet-1000-10), drawn with
  `seed` (default 0) from each class's rows; val is kept whole;
- `{"balanced": true}`: the largest class's training rows cut to the size of the second largest (T22's
  balanced MLC2008 / HAM10000), drawn with `seed`; val is kept whole;
- `{"fraction": 0.1}`: a stratified share of the training split. A class with n_c training rows keeps
  k_c = max(1, round(f·n_c)) of them (Python's round of the float product, half to even, as the hold-out
  split of splits.py; at least one, so no class disappears): the first k_c of a permutation of its rows
  drawn with `seed`, class by class. Every class draws its permutation whatever f is, so for one seed a
  smaller fraction's rows are a subset of a larger one's. Val is kept whole;
- `{"resolution": 32}`: the same rows with 32×32 pixels, read from a derived store (below).
Keys combine in this order: classes, max_per_class, balanced, fraction (a fraction of the training rows the
other keys leave); `resolution` only changes where the pixels come from.

The result is a view: the same memmapped `images`, full-length index arrays in which rows outside the
variant have split "excluded" and label -1, so `split_indices("train"/"val")` selects exactly the variant's
rows (this is how the loader reads a store). `meta` gets `variant` (canonical form: see
`canonical_variant`), the new `classes`, `num_images`, `split_counts` and a fingerprint covering the
variant. mean/std are the store's training statistics, kept on purpose: they are a normalisation constant
of the data source (ImageNet's, for ImageNet-X, as usual), recomputing them would need a pass over the
images, and the paper's per-dataset normalisation is per dataset, not per subset.

Derived stores. A resolution variant reads `<data_root>/.derived/<dataset>/r<s>-<parent fingerprint>/`
(a dot folder: prepare never writes one, and no catalogue name starts with a dot), a complete store made
once by `make_resolution_store` (CLI: `derive-resolution`, below) from the parent store alone, never from
raw files: every stored image resized to s×s by Pillow's BOX filter, the call `readers/images.py` makes for
prepare and `python -m pipeline downsample`. So its pixels are what downsample writes for the store's
images: C17's recipe applied to the stored (e.g. 256-px) images rather than to the original JPEGs, which
for the box filter is close to, not exactly, one resize of the original. Rows, labels, splits and source
ids are the parent's, in its order; mean/std are the derived images' own (as a prepared imagenet32 store
has). The derivation (parent fingerprint, s, filter) is recorded in `meta["split"]["derived"]`, which the
store fingerprint hashes, and with the parent's mean/std in `meta["derived_from"]`, which opening checks,
so a parent prepared again with other pixels is never served stale ones. Opening never writes: a missing
derived store is one DatasetError naming the command that makes it.

`python -m pipeline.data.variants draw-imagenet-x --k 100 10 5 2 --seed 0 --map map_clsloc.txt` draws the
ImageNet-X class lists: one seeded permutation of the map's wnids (sorted first, so the map's line order
does not matter); ImageNet-k takes its first k, so the subsets are nested (ImageNet-2 ⊂ -5 ⊂ -10 ⊂ -100).
Each file lists its wnids sorted, under a header with the seed and the command.
`python -m pipeline.data.variants derive-resolution imagenet --size 16 32 64 [--data-root data]` makes
the derived stores of resolution variants (idempotent: one already there is left alone).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from pipeline.data.catalogue import CATALOGUE_DIR
from pipeline.data.readers.images import FILTERS
from pipeline.data.store import IMAGES_FILE, Store, finalize_store, fingerprint_of, is_store, open_store
from pipeline.errors import DatasetError

EXCLUDED = "excluded"
VARIANT_KEYS = ("classes", "max_per_class", "balanced", "fraction", "resolution", "seed")
IMAGENET_X_DIR = CATALOGUE_DIR / "imagenet_x"
DERIVED_DIR = ".derived"
MIN_RESOLUTION = 8  # C17's smallest size
DERIVE_FILTER = "box"  # C17's filter, and downsample's default
CHUNK_BYTES = 64 << 20  # parent pixels read per chunk while deriving: memory stays flat at ImageNet scale


def read_class_list(path: str | Path) -> list[str]:
    """Class names of a list file (one per line; `#` comments and blank lines ignored)."""
    path = Path(path)
    if not path.is_absolute() and not path.is_file():
        path = CATALOGUE_DIR / path
    if not path.is_file():
        raise DatasetError(f"class list {path} does not exist (lists live under {CATALOGUE_DIR})")
    names = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    names = [n for n in names if n]
    if not names or len(set(names)) != len(names):
        raise DatasetError(f"class list {path} is empty or has duplicates")
    return names


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def canonical_variant(variant: Mapping[str, Any] | None, name: str = "dataset") -> dict[str, Any]:
    """`variant` checked and in canonical form (keys sorted, fraction a float, counts ints), so equal
    variants hash equal in every process; every problem is reported in one DatasetError."""
    variant = dict(variant or {})
    problems = []
    unknown = sorted(set(variant) - set(VARIANT_KEYS))
    if unknown:
        problems.append(f"unknown variant keys {unknown} (allowed: {list(VARIANT_KEYS)})")
    checks = {
        "classes": (lambda v: isinstance(v, (str, Path)) and str(v) != "", "a class list file"),
        "max_per_class": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
        "balanced": (lambda v: isinstance(v, bool), "true or false"),
        "fraction": (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
        "resolution": (lambda v: _is_int(v) and v >= MIN_RESOLUTION, f"an integer ≥ {MIN_RESOLUTION}"),
        "seed": (lambda v: _is_int(v), "an integer"),
    }
    for key, (ok, words) in checks.items():
        if key in variant and not ok(variant[key]):
            problems.append(f"variant {key} {variant[key]!r} must be {words}")
    if problems:
        raise DatasetError(f"variant of {name!r}: " + "; ".join(problems))
    casts = {"classes": str, "max_per_class": int, "fraction": float, "resolution": int, "seed": int}
    return {k: casts.get(k, lambda v: v)(variant[k]) for k in sorted(variant)}


def open_dataset(data_root: str | Path, dataset: str, variant: Mapping[str, Any] | None = None) -> Store:
    """The prepared store `<data_root>/<dataset>`, restricted by `variant` (see the module docstring).

    Read-only: a resolution variant whose derived store is missing raises DatasetError with the command.
    """
    store = open_store(Path(data_root) / dataset)
    variant = canonical_variant(variant, dataset)
    if "resolution" in variant:
        store = open_resolution_store(data_root, dataset, variant["resolution"], parent=store)
    return apply_variant(store, variant)


def apply_variant(store: Store, variant: Mapping[str, Any] | None) -> Store:
    """A view of `store` restricted by `variant`; `None`/`{}` returns the store itself.

    A `resolution` key is only recorded here: `store` must already be the derived store (`open_dataset`).
    """
    variant = canonical_variant(variant, store.name)
    if not variant:
        return store
    if "resolution" in variant and list(store.meta["resolution"]) != [variant["resolution"]] * 2:
        raise DatasetError(
            f"variant resolution {variant['resolution']} of {store.name!r}: this store is "
            f"{store.meta['resolution']} px; open resolution variants with open_dataset (it reads the "
            "derived store)"
        )
    seed = variant.get("seed", 0)
    labels = store.labels.copy()
    splits = store.splits.copy()
    classes = store.classes
    if "classes" in variant:
        wanted = read_class_list(variant["classes"])
        missing = [c for c in wanted if c not in classes]
        if missing:
            raise DatasetError(
                f"{variant['classes']}: classes {missing[:5]} are not in {store.name!r} "
                f"({len(missing)} missing)"
            )
        remap = np.full(len(classes), -1, dtype=np.int64)
        remap[[classes.index(c) for c in wanted]] = np.arange(len(wanted))
        labels = remap[labels]
        classes = wanted
    if "max_per_class" in variant:
        cap = variant["max_per_class"]
        _cap_train(labels, splits, lambda counts: np.minimum(counts, cap), seed)
    if variant.get("balanced"):

        def balanced(counts: np.ndarray) -> np.ndarray:
            if len(counts) < 2:
                return counts
            second = np.sort(counts)[-2]
            return np.minimum(counts, second)

        _cap_train(labels, splits, balanced, seed)
    if "fraction" in variant:
        _fraction_train(labels, splits, variant["fraction"], seed)
    splits[labels < 0] = EXCLUDED
    labels[splits == EXCLUDED] = -1
    meta = dict(store.meta)
    meta.update(
        classes=list(classes),
        num_images=int((splits != EXCLUDED).sum()),
        split_counts={s: int((splits == s).sum()) for s in ("train", "val")},
        variant=variant,
        parent_fingerprint=store.meta["fingerprint"],
    )
    meta["split"] = {**store.meta.get("split", {}), "variant": variant}
    meta["fingerprint"] = fingerprint_of(meta)
    return dataclasses.replace(store, labels=labels, splits=splits, meta=meta)


def _cap_train(labels: np.ndarray, splits: np.ndarray, limit, seed: int) -> None:
    """Exclude training rows beyond `limit(counts)` per class, keeping a seeded random choice (in place)."""
    train = np.flatnonzero((splits == "train") & (labels >= 0))
    counts = np.bincount(labels[train], minlength=int(labels.max()) + 1)
    keep = limit(counts)
    rng = np.random.default_rng(seed)
    for c in np.flatnonzero(counts > keep):
        rows = train[labels[train] == c]
        splits[rng.permutation(rows)[keep[c] :]] = EXCLUDED


def fraction_count(n: int, fraction: float) -> int:
    """Training rows a class of `n` keeps under `fraction`: max(1, round(fraction·n)); 0 when n is 0."""
    return 0 if n == 0 else max(1, round(fraction * n))


def _fraction_train(labels: np.ndarray, splits: np.ndarray, fraction: float, seed: int) -> None:
    """Keep `fraction_count` seeded training rows of every class, exclude the rest (in place)."""
    train = np.flatnonzero((splits == "train") & (labels >= 0))
    rng = np.random.default_rng(seed)
    for c in np.unique(labels[train]):  # every class draws, even one kept whole: nested fractions
        rows = rng.permutation(train[labels[train] == c])
        splits[rows[fraction_count(len(rows), fraction) :]] = EXCLUDED


# ---------------------------------------------------------------- derived stores (resolution variants)


def derived_store_path(data_root: str | Path, dataset: str, resolution: int, parent_fingerprint: str) -> Path:
    """Where the `resolution`-px store derived from `dataset`'s store (with that fingerprint) lives."""
    return Path(data_root) / DERIVED_DIR / dataset / f"r{int(resolution)}-{parent_fingerprint}"


def derive_command(dataset: str, resolution: int, data_root: str | Path = "data") -> str:
    """The command that makes a missing derived store (named by the open error)."""
    root = "" if Path(data_root) == Path("data") else f" --data-root {data_root}"
    return f"python -m pipeline.data.variants derive-resolution {dataset} --size {resolution}{root}"


def resize_pixels(pixels: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 (s, s, 3) of one stored image: the Pillow resize prepare and downsample make (box filter)."""
    image = Image.fromarray(np.ascontiguousarray(pixels))
    return np.asarray(image.resize((resolution, resolution), FILTERS[DERIVE_FILTER]))


def _check_resolution(parent: Store, resolution: int) -> None:
    size = min(parent.meta["resolution"])
    if not _is_int(resolution) or not MIN_RESOLUTION <= resolution < size:
        raise DatasetError(
            f"variant resolution {resolution!r} of {parent.name!r}: must be an integer from "
            f"{MIN_RESOLUTION} to {size - 1} (below the store's {size} px)"
        )


def _lineage(parent: Store, resolution: int) -> dict[str, Any]:
    """What a derived store was made from; the parent's mean/std stand for its pixels (exact statistics)."""
    return {
        "dataset": parent.name,
        "fingerprint": parent.fingerprint,
        "num_images": len(parent.labels),
        "mean": list(parent.meta["mean"]),
        "std": list(parent.meta["std"]),
        "resolution": int(resolution),
        "resize_filter": DERIVE_FILTER,
    }


def open_resolution_store(
    data_root: str | Path, dataset: str, resolution: int, *, parent: Store | None = None
) -> Store:
    """The whole derived store of `dataset` at `resolution` px; DatasetError naming the fix when absent."""
    parent = parent if parent is not None else open_store(Path(data_root) / dataset)
    _check_resolution(parent, resolution)
    path = derived_store_path(data_root, dataset, resolution, parent.fingerprint)
    fix = derive_command(dataset, resolution, data_root)
    if not is_store(path):
        raise DatasetError(
            f"variant resolution {resolution} of {dataset!r}: no {resolution}-px store derived from it "
            f"at {path}; make it (from the prepared store, once) with: {fix}"
        )
    derived = open_store(path)
    if derived.meta.get("derived_from") != _lineage(parent, resolution):
        raise DatasetError(
            f"variant resolution {resolution} of {dataset!r}: {path} was made from another version of the "
            f"{dataset!r} store; make it again with: {fix}"
        )
    return derived


def make_resolution_store(
    data_root: str | Path,
    dataset: str,
    resolution: int,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> Store:
    """Make (once) the store of `dataset` at `resolution` px from its prepared store; see module docstring.

    Idempotent: a derived store of the current parent is left alone ("already there"). The parent is read
    in chunks of CHUNK_BYTES into a preallocated memmap (prepare's pattern), resized by `workers` threads
    (Pillow releases the GIL), and the folder appears complete or not at all (`finalize_store`).
    """
    log = log or (lambda line: print(line, file=sys.stderr))
    parent = open_store(Path(data_root) / dataset)
    _check_resolution(parent, resolution)
    path = derived_store_path(data_root, dataset, resolution, parent.fingerprint)
    lineage = _lineage(parent, resolution)
    if is_store(path) and open_store(path).meta.get("derived_from") == lineage:
        log(f"{dataset} at {resolution} px: already there at {path}; nothing to do")
        return open_store(path)
    tmp_dir = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    tmp_dir.mkdir(parents=True)
    try:
        out = np.lib.format.open_memmap(
            tmp_dir / IMAGES_FILE,
            mode="w+",
            dtype=np.uint8,
            shape=(len(parent.labels), resolution, resolution, 3),
        )
        _resize_rows(parent.images, out, resolution, workers, progress)
        out.flush()
        del out
        index = pd.DataFrame({"label": parent.labels, "split": parent.splits, "source_id": parent.source_ids})
        derived = {"from": parent.fingerprint, "resolution": int(resolution), "resize_filter": DERIVE_FILTER}
        store = finalize_store(
            tmp_dir,
            path,
            index,
            parent.classes,
            name=parent.name,
            split={**parent.meta.get("split", {}), "derived": derived},
            extra_meta={"source_format": "derived", "resize_filter": DERIVE_FILTER, "derived_from": lineage},
        )
    finally:
        if tmp_dir.exists():  # only left behind when something failed
            shutil.rmtree(tmp_dir)
    log(f"{dataset} at {resolution} px: {len(store.labels)} images -> {path}")
    return store


def _resize_rows(
    source: np.ndarray,
    out: np.ndarray,
    resolution: int,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """out[i] = resize_pixels(source[i]) for every row, reading `source` in chunks of CHUNK_BYTES."""
    n = len(source)
    chunk = max(1, CHUNK_BYTES // max(1, int(np.prod(source.shape[1:]))))

    def work(start: int) -> int:
        block = np.array(source[start : start + chunk])  # one sequential read of the memmap
        for i, pixels in enumerate(block):
            out[start + i] = resize_pixels(pixels, resolution)
        return len(block)

    done = 0
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for count in pool.map(work, range(0, n, chunk)):
            done += count
            if progress:
                progress(done, n)


# ---------------------------------------------------------------- ImageNet-X class lists


def draw_imagenet_x(wnids: Sequence[str], ks: Sequence[int], seed: int) -> dict[int, list[str]]:
    """ImageNet-k class lists: the first k of one seeded permutation of the sorted wnids (nested), sorted."""
    pool = sorted(wnids)
    if max(ks) > len(pool):
        raise DatasetError(f"cannot draw {max(ks)} classes from {len(pool)}")
    order = np.random.default_rng(seed).permutation(len(pool))
    return {k: sorted(pool[i] for i in order[:k]) for k in ks}


def write_imagenet_x(out_dir: Path, lists: dict[int, list[str]], *, seed: int, map_path: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    total = len(_all_wnids(map_path))
    paths = []
    for k, wnids in lists.items():
        path = out_dir / f"imagenet-{k}.txt"
        ks = " ".join(map(str, lists))
        header = [
            f"# ImageNet-{k}: {k} of the {total} ILSVRC2012 classes, drawn with seed {seed}",
            f"# from the sorted wnids of {map_path.name}: the first {k} of "
            f"numpy.random.default_rng({seed}).permutation; lists of one seed are nested",
            f"# drawn by: python -m pipeline.data.variants draw-imagenet-x --k {ks} --seed {seed} "
            f"--map {map_path.name}",
        ]
        path.write_text("\n".join([*header, *wnids]) + "\n")
        paths.append(path)
    return paths


def _all_wnids(map_path: Path) -> list[str]:
    from pipeline.data.c17 import load_class_map

    return load_class_map(map_path)


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.cli import ArgumentParser
    from pipeline.validate import non_negative_int, positive_int

    parser = ArgumentParser(prog="python -m pipeline.data.variants")
    sub = parser.add_subparsers(dest="command", required=True)
    draw = sub.add_parser("draw-imagenet-x", help="draw the ImageNet-X class lists from a map_clsloc.txt")
    draw.add_argument("--k", type=positive_int, nargs="+", default=[100, 10, 5, 2])
    draw.add_argument("--seed", type=non_negative_int, default=0)
    draw.add_argument("--map", required=True, help="the devkit's map_clsloc.txt")
    draw.add_argument("--out", default=str(IMAGENET_X_DIR))
    derive = sub.add_parser(
        "derive-resolution", help="make the box-downsampled stores that resolution variants read"
    )
    derive.add_argument("dataset", help="a prepared dataset under --data-root")
    derive.add_argument("--size", type=positive_int, nargs="+", required=True, help="side lengths in pixels")
    derive.add_argument("--data-root", default="data")
    derive.add_argument(
        "--workers", type=positive_int, default=None, help="resizing threads (default: all cores)"
    )
    args = parser.parse_args(argv)
    if args.command == "derive-resolution":
        workers = args.workers or os.cpu_count() or 1
        for size in args.size:
            make_resolution_store(args.data_root, args.dataset, size, workers=workers, log=print)
        return 0
    map_path = Path(args.map)
    lists = draw_imagenet_x(_all_wnids(map_path), args.k, args.seed)
    for path in write_imagenet_x(Path(args.out), lists, seed=args.seed, map_path=map_path):
        print(path)
    return 0


if __name__ == "__main__":
    from pipeline.cli import run_cli

    raise SystemExit(run_cli(main))
