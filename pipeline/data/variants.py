"""Dataset variants as tasks see them: ImageNet-X class subsets, capped and balanced training sets.

`open_dataset(data_root, dataset, variant)` opens `<data_root>/<dataset>/` and restricts it:

- `{"classes": "imagenet_x/imagenet-10.txt"}`: only the wnids listed (a file under `datasets/`, or a path);
  labels are remapped to 0..k-1 in list order, so ImageNet-10 is the same subset at every resolution;
- `{"max_per_class": 10}`: at most 10 training images per class (T22's ImageNet-1000-10), drawn with
  `seed` (default 0) from each class's rows; val is kept whole;
- `{"balanced": true}`: the largest class's training rows cut to the size of the second largest (T22's
  balanced MLC2008 / HAM10000), drawn with `seed`; val is kept whole.
Keys combine (classes first, then the caps).

The result is a view: the same memmapped `images`, full-length index arrays in which rows outside the
variant have split "excluded" and label -1, so `split_indices("train"/"val")` selects exactly the variant's
rows (this is how the loader reads a store). `meta` gets `variant`, the new `classes`, `num_images`,
`split_counts` and a fingerprint covering the variant. mean/std are the parent store's training statistics,
kept on purpose: they are a normalisation constant of the data source (ImageNet's, for ImageNet-X, as
usual), recomputing them would need a pass over the images, and the paper's per-dataset normalisation is
per dataset, not per subset.

`python -m pipeline.data.variants draw-imagenet-x --k 100 10 5 2 --seed 0 --map map_clsloc.txt` draws the
ImageNet-X class lists: one seeded permutation of the map's wnids (sorted first, so the map's line order
does not matter); ImageNet-k takes its first k, so the subsets are nested (ImageNet-2 ⊂ -5 ⊂ -10 ⊂ -100).
Each file lists its wnids sorted, under a header with the seed and the command.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.data.catalogue import CATALOGUE_DIR
from pipeline.data.store import Store, fingerprint_of, open_store
from pipeline.errors import DatasetError

EXCLUDED = "excluded"
VARIANT_KEYS = ("classes", "max_per_class", "balanced", "seed")
IMAGENET_X_DIR = CATALOGUE_DIR / "imagenet_x"


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


def open_dataset(data_root: str | Path, dataset: str, variant: dict[str, Any] | None = None) -> Store:
    """The prepared store `<data_root>/<dataset>`, restricted by `variant` (see the module docstring)."""
    store = open_store(Path(data_root) / dataset)
    return apply_variant(store, variant)


def apply_variant(store: Store, variant: dict[str, Any] | None) -> Store:
    """A view of `store` restricted by `variant`; `None`/`{}` returns the store itself."""
    variant = dict(variant or {})
    if not variant:
        return store
    unknown = sorted(set(variant) - set(VARIANT_KEYS))
    if unknown:
        raise DatasetError(
            f"unknown variant keys {unknown} for {store.name!r}; allowed: {list(VARIANT_KEYS)}"
        )
    seed = int(variant.get("seed", 0))
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
        if not isinstance(cap, int) or cap < 1:
            raise DatasetError(f"variant max_per_class {cap!r} must be a positive integer")
        _cap_train(labels, splits, lambda counts: np.minimum(counts, cap), seed)
    if variant.get("balanced"):

        def balanced(counts: np.ndarray) -> np.ndarray:
            if len(counts) < 2:
                return counts
            second = np.sort(counts)[-2]
            return np.minimum(counts, second)

        _cap_train(labels, splits, balanced, seed)
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
    parser = argparse.ArgumentParser(prog="python -m pipeline.data.variants")
    sub = parser.add_subparsers(dest="command", required=True)
    draw = sub.add_parser("draw-imagenet-x", help="draw the ImageNet-X class lists from a map_clsloc.txt")
    draw.add_argument("--k", type=int, nargs="+", default=[100, 10, 5, 2])
    draw.add_argument("--seed", type=int, default=0)
    draw.add_argument("--map", required=True, help="the devkit's map_clsloc.txt")
    draw.add_argument("--out", default=str(IMAGENET_X_DIR))
    args = parser.parse_args(argv)
    map_path = Path(args.map)
    lists = draw_imagenet_x(_all_wnids(map_path), args.k, args.seed)
    for path in write_imagenet_x(Path(args.out), lists, seed=args.seed, map_path=map_path):
        print(path)
    return 0


if __name__ == "__main__":
    from pipeline.cli import run_cli

    raise SystemExit(run_cli(main))
