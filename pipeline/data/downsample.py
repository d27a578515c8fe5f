"""`python -m pipeline downsample --source IMAGENET_DIR --size 32 [--map map_clsloc.txt] --out DIR`.

Writes downsampled ImageNet in the C17 file format (STUDY.md §7, c17.py): every image converted to RGB
and resized with Pillow to size×size (aspect not kept, no crop) with the box filter by default (the
released files' filter; `--filter` picks another of Pillow's), labels 1..1000 = the ILSVRC2012_IDs (the
devkit's meta.mat under --source, else the line order of map_clsloc.txt; a --map that disagrees with the
devkit is refused; see readers/devkit.py),
training images shuffled globally with `--seed` into 10 files, the mean training image in each, then
`val_data`. Decoding is prepare's resumable parallel engine (same chunks, done markers and skipping of
corrupt images); an interrupted run resumes, and a folder that already holds all 11 files is left alone.
The files read back as a dataset through the `imagenet{8,16,32,64}` catalogue entries (format c17).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from pipeline.data import c17
from pipeline.data.catalogue import RESIZE_FILTERS, load_entry
from pipeline.data.decode import decode_all, image_bytes
from pipeline.data.readers import devkit, imagenet, read_source
from pipeline import fsio
from pipeline.cli import ArgumentParser
from pipeline.errors import DatasetError
from pipeline.progress import Printer, Progress
from pipeline.validate import non_negative_int, positive_int


def downsample_imagenet(
    source: str | Path,
    out: str | Path,
    *,
    size: int,
    map_path: str | Path | None = None,
    resize_filter: str = "box",
    workers: int | None = None,
    seed: int = 0,
    fmt: str = "pickle",
    force: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> dict:
    """Write the C17 files of ImageNet at `size` px into `out`; returns a summary dict.

    Beside them goes `map_clsloc.txt` in the labels' ID order (when `out` has none), so that
    `prepare imagenet<size> --source OUT` reads them back without a --map."""
    log = log or (lambda line: print(line, file=sys.stderr))
    started = time.perf_counter()
    out = Path(out)
    if size < 1:
        raise DatasetError(f"--size {size}: must be a positive number of pixels (C17: 8, 16, 32, 64)")
    if resize_filter not in RESIZE_FILTERS:
        raise DatasetError(f"--filter {resize_filter!r} is not one of {list(RESIZE_FILTERS)}")
    train_files, val_file = c17.find_files(out) if out.is_dir() else ([], None)
    if len(train_files) == c17.NUM_TRAIN_FILES and val_file is not None and not force:
        return {"already": True, "out": str(out)}
    class_map = Path(map_path) if map_path else None
    entry = replace(load_entry("imagenet"), resolution=size, resize_filter=resize_filter)
    raw = read_source(source, entry, class_map=class_map)
    order = imagenet.id_order(Path(source), class_map)  # the devkit's IDs; a disagreeing --map is refused
    if order is None:
        looked = devkit.looked_for(imagenet.search_folders(Path(source)))
        raise DatasetError(
            f"the C17 labels are ILSVRC2012_IDs, but {looked}; "
            f"put {devkit.DEVKIT_TAR} (or its extracted folder) in {source}, or pass --map map_clsloc.txt"
        )
    wnids = order.wnids
    unknown = sorted(set(raw.classes) - set(wnids))
    if unknown:
        raise DatasetError(f"train/ folders {unknown[:5]} are not in {order.where} ({len(unknown)} unknown)")
    to_map = np.array([wnids.index(w) + 1 for w in raw.classes], dtype=np.int64)  # 1-based, ID order
    samples = list(raw.samples)
    work_dir = out / f".downsample-{size}.partial"
    fsio.require_writable(out, option="--out")
    if not work_dir.exists():  # the work array and the files written from it, side by side
        fsio.require_space(out, 2 * image_bytes(len(samples), size), f"downsampling {len(samples):,} images")
    result = decode_all(
        samples, work_dir, resolution=size, resize_filter=resize_filter, workers=workers,
        plan={"downsample": size}, progress=progress, log=lambda line: log(f"downsample {size}px: {line}"),
    )  # fmt: skip
    failures, decoded = result.failures, result.decoded
    failed = {row for row, _ in failures}
    for row, reason in failures[:20]:
        log(f"downsample: skipped {samples[row].source_id}: {reason}")
    splits = np.array([s.split for s in samples])
    ok = np.array([i not in failed for i in range(len(samples))])
    labels = to_map[np.array([s.label for s in samples], dtype=np.int64)]
    images = np.load(work_dir / "images.npy", mmap_mode="r")
    train_rows, val_rows = np.flatnonzero(ok & (splits == "train")), np.flatnonzero(ok & (splits == "val"))
    written = c17.write_c17(out, images, labels, train_rows, val_rows, seed=seed, fmt=fmt)
    del images
    if not (out / "map_clsloc.txt").exists():
        lines = "".join(f"{wnid} {i} {wnid}\n" for i, wnid in enumerate(wnids, 1))
        fsio.write_text(lines, out / "map_clsloc.txt")
    shutil.rmtree(work_dir)
    return {
        "already": False, "out": str(out), "files": [p.name for p in written], "train": len(train_rows),
        "val": len(val_rows), "skipped": len(failures), "decoded": decoded,
        "seconds": time.perf_counter() - started,
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m pipeline downsample", description="Write downsampled ImageNet in the C17 file format."
    )
    parser.add_argument(
        "--source", required=True, help="ImageNet folder with train/ and val/ (see imagenet.yaml)"
    )
    parser.add_argument(
        "--size", type=positive_int, required=True, help="side length in pixels (C17: 8, 16, 32, 64)"
    )
    parser.add_argument(
        "--map", help="map_clsloc.txt (line k = ILSVRC2012_ID k); optional when the devkit is under --source"
    )
    parser.add_argument("--out", required=True, help="folder for train_data_batch_1..10 and val_data")
    parser.add_argument("--filter", default="box", choices=RESIZE_FILTERS, help="Pillow resize filter")
    parser.add_argument("--format", default="pickle", choices=("pickle", "npz"), help="file format")
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of the global shuffle of the training set"
    )
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="decoding processes (default: all cores)"
    )
    parser.add_argument("--force", action="store_true", help="rewrite files that already exist")
    args = parser.parse_args(argv)
    result = downsample_imagenet(
        args.source, args.out, size=args.size, map_path=args.map, resize_filter=args.filter,
        workers=args.workers, seed=args.seed, fmt=args.format, force=args.force, progress=Printer(),
    )  # fmt: skip
    if result["already"]:
        print(f"{args.out} already holds the C17 files; nothing to do (--force rewrites them)")
    else:
        print(
            f"downsampled ImageNet {args.size}px: {result['train']} train / {result['val']} val images, "
            f"{result['skipped']} skipped, {result['seconds']:.1f} s -> {args.out}"
        )
    return 0
