"""`python -m pipeline prepare <dataset> --source DIR`: public files -> packed store, once, resumably.

Steps: the format's reader lists the samples (classes, labels, official split); a pool of processes decodes
them in chunks of consecutive samples, converts to RGB and resizes to the storage resolution (Pillow, see
readers/images.py), writing straight into a preallocated `images.npy` memmap in `<out>.partial/`; each
finished chunk leaves a done marker with the samples it had to skip. When every chunk is done, skipped rows
are squeezed out of the memmap in place, the hold-out split is drawn over the images that decoded (seeded,
splits.py), and `store.finalize_store` computes the training mean/std and renames the folder into place.

Idempotent: a finished store with the same split is left alone ("already prepared"); an interrupted run
resumes at the first chunk without a marker (the plan file pins the sample list, so a changed source starts
over). A corrupt image is skipped, logged and counted, never fatal.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.data.catalogue import DatasetEntry, load_entry
from pipeline.data.readers import ArrayRow, Sample, read_source
from pipeline.data.readers.images import load_pixels
from pipeline.data.splits import assign_splits, split_meta
from pipeline.data.store import IMAGES_FILE, Store, finalize_store, is_store, open_store
from pipeline.errors import DatasetError

PLAN_FILE, CHUNKS_DIR, COMPACTING = "plan.json", "chunks", "compacting"
MAX_SKIPPED_IN_META = 1000


@dataclass
class PrepareResult:
    store: Store
    decoded: int = 0  # samples decoded in this call (0 when already prepared)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source_id, reason), whole store
    resumed_chunks: int = 0  # chunks found done from an earlier, interrupted call
    already: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        meta = self.store.meta
        counts = meta.get("split_counts", {})
        if self.already:
            where = f"{self.store.path} ({meta['num_images']} images)"
            return f"{meta['name']}: already prepared at {where}; nothing to do"
        side = "×".join(str(r) for r in meta["resolution"])
        resumed = f", resumed after {self.resumed_chunks} finished chunks" if self.resumed_chunks else ""
        return (
            f"{meta['name']}: {meta['num_images']} images "
            f"({counts.get('train', 0)} train / {counts.get('val', 0)} val), "
            f"{len(self.skipped)} skipped, {side} px, {self.seconds:.1f} s{resumed} -> {self.store.path}"
        )


# ---------------------------------------------------------------- the decode engine (also used by downsample)


def make_chunks(samples: Sequence[Sample], chunk_size: int) -> list[tuple[int, int]]:
    """(start, stop) ranges of consecutive samples; array rows are grouped one file per chunk."""
    chunks, start = [], 0
    for i in range(1, len(samples) + 1):
        at_end = i == len(samples)
        source = samples[i - 1].source
        if isinstance(source, ArrayRow):
            cut = (
                at_end or not isinstance(samples[i].source, ArrayRow) or samples[i].source.path != source.path
            )
        else:
            cut = at_end or i - start >= chunk_size
        if cut:
            chunks.append((start, i))
            start = i
    return chunks


_WORKER: dict[str, Any] = {}


def _init_worker(
    images_path: str, samples: Sequence[Sample], resolution: int, resize_filter: str, marks: str
) -> None:
    _WORKER.update(
        images=np.load(images_path, mmap_mode="r+"),
        samples=samples,
        resolution=resolution,
        resize_filter=resize_filter,
        marks=Path(marks),
    )


def _decode_chunk(task: tuple[int, int, int]) -> tuple[int, int, list[tuple[int, str]]]:
    """Decode samples[start:stop] into the memmap; write the chunk's done marker; return its failures."""
    chunk_id, start, stop = task
    images, samples = _WORKER["images"], _WORKER["samples"]
    failures = []
    for i in range(start, stop):
        try:
            images[i] = load_pixels(samples[i].source, _WORKER["resolution"], _WORKER["resize_filter"])
        except Exception as error:  # any unreadable input is skipped and reported, never fatal
            failures.append((i, f"{type(error).__name__}: {error}"))
    # no msync here: the pixels sit in the shared page cache before the marker is renamed into place, so
    # they survive a killed process (not a power cut); a per-chunk msync cost more than decoding on disks
    _write_json(_WORKER["marks"] / f"{chunk_id}.json", {"start": start, "stop": stop, "failures": failures})
    return chunk_id, stop - start, failures


def decode_all(
    samples: Sequence[Sample],
    work_dir: Path,
    *,
    resolution: int,
    resize_filter: str = "box",
    workers: int | None = None,
    chunk_size: int = 256,
    plan: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[tuple[int, str]], int, int]:
    """Decode every sample into `work_dir/images.npy` (N, r, r, 3), resuming from done markers.

    Returns (failures [(row, reason)], samples decoded now, chunks found already done).
    """
    plan = {
        **(plan or {}),
        "n": len(samples),
        "resolution": resolution,
        "resize_filter": resize_filter,
        "samples": _digest(samples),
    }
    plan_path, marks = work_dir / PLAN_FILE, work_dir / CHUNKS_DIR
    if work_dir.exists() and (_read_json(plan_path) != plan or (work_dir / COMPACTING).exists()):
        shutil.rmtree(work_dir)  # a different sample list, or killed while compacting: start over
    marks.mkdir(parents=True, exist_ok=True)
    images_path = work_dir / IMAGES_FILE
    if not images_path.exists():
        np.lib.format.open_memmap(
            images_path, mode="w+", dtype=np.uint8, shape=(len(samples), resolution, resolution, 3)
        )
        _write_json(plan_path, plan)
    chunks = make_chunks(samples, chunk_size)
    done = {int(p.stem) for p in marks.glob("*.json")}
    todo = [(i, a, b) for i, (a, b) in enumerate(chunks) if i not in done]
    total, finished = len(samples), sum(b - a for i, (a, b) in enumerate(chunks) if i in done)
    initargs = (str(images_path), samples, resolution, resize_filter, str(marks))
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    decoded, skipped = 0, 0
    if workers == 1:
        _init_worker(*initargs)
        results = map(_decode_chunk, todo)
        pool = None
    else:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        pool = multiprocessing.get_context(method).Pool(workers, _init_worker, initargs)
        results = pool.imap_unordered(_decode_chunk, todo)
    try:
        for _, count, failures in results:
            decoded += count
            skipped += len(failures)
            if progress:
                progress(f"{finished + decoded}/{total} images, {skipped} skipped")
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        _WORKER.clear()
    failures = [tuple(f) for p in sorted(marks.glob("*.json")) for f in _read_json(p)["failures"]]
    return sorted(failures), decoded, len(done)


def compact(work_dir: Path, keep: np.ndarray) -> None:
    """Drop the rows not in `keep` (sorted) from work_dir/images.npy in place.

    Rows move forward, the header is rewritten with the smaller shape at the same length, and the file
    is truncated.
    """
    path = work_dir / IMAGES_FILE
    images = np.load(path, mmap_mode="r+")
    if len(keep) == len(images):
        return
    (work_dir / COMPACTING).touch()
    for new, old in enumerate(keep):
        if new != old:
            images[new] = images[old]
    row_bytes = int(np.prod(images.shape[1:]))
    shape = (len(keep), *images.shape[1:])
    images.flush()
    offset = images.offset
    del images
    with open(path, "r+b") as f:
        version = np.lib.format.read_magic(f)
        header = {"descr": "|u1", "fortran_order": False, "shape": shape}
        text = repr(header).encode("latin1")
        length = offset - 10 if version == (1, 0) else offset - 12
        f.seek(offset - length)
        f.write(text + b" " * (length - len(text) - 1) + b"\n")  # same header length, shorter shape
        f.truncate(offset + len(keep) * row_bytes)
    (work_dir / COMPACTING).unlink()


def _digest(samples: Sequence[Sample]) -> str:
    h = hashlib.sha256()
    for s in samples:
        h.update(f"{s.source_id}\t{s.label}\t{s.split}\n".encode())
    return h.hexdigest()[:16]


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- prepare


def resolve_split(entry: DatasetEntry, split_seed: int | None) -> dict[str, Any]:
    split = dict(entry.split)
    if split_seed is not None and split["policy"] != "official":
        split["seed"] = int(split_seed)
    return split_meta(split["policy"], seed=split.get("seed"), fraction=split.get("fraction"))


def prepare_dataset(
    entry: DatasetEntry,
    source: str | Path | None,
    out: str | Path,
    *,
    workers: int | None = None,
    split_seed: int | None = None,
    class_map: str | Path | None = None,
    force: bool = False,
    chunk_size: int = 256,
    log: Callable[[str], None] | None = None,
) -> PrepareResult:
    """Pack `entry`'s raw files under `source` into the store at `out` (see the module docstring)."""
    started = time.perf_counter()
    log = log or (lambda line: print(line, file=sys.stderr))
    out = Path(out)
    if entry.format == "synthetic":
        return _generate(
            entry,
            out,
            seed=entry.split.get("seed", 0) if split_seed is None else split_seed,
            force=force,
            started=started,
        )
    split = resolve_split(entry, split_seed)
    if split_seed is not None and split["policy"] == "official":
        log(f"{entry.name}: has an official split; --split-seed {split_seed} is ignored")
    entry = replace(entry, split={**entry.split, **split})
    if out.exists() and not is_store(out) and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(
            f"{out} exists and is not a prepared store; refusing to replace it with {entry.name!r} "
            f"(choose another --out, e.g. <data_root>/{entry.name})"
        )
    if is_store(out) and not force:
        store = open_store(out)
        if store.meta.get("split") == split and list(store.meta["resolution"]) == [entry.resolution] * 2:
            return PrepareResult(store, already=True)
        raise DatasetError(
            f"{out} holds {entry.name} prepared with split {store.meta.get('split')} at "
            f"{store.meta['resolution']} px, not {split} at {entry.resolution} px; "
            "pass --force to rebuild it "
            "or --out to write elsewhere"
        )
    if source is None:
        raise DatasetError(
            f"{entry.name}: --source DIR is required ({entry.source_hint or 'see datasets/README.md'})"
        )
    raw = read_source(source, entry, class_map=Path(class_map) if class_map else None)
    samples = list(raw.samples)
    if not samples:
        raise DatasetError(
            f"{entry.name}: no images found under {source}; expected {entry.source.get('expect')}"
        )
    work_dir = out.with_name(f".{out.name}.partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    failures, decoded, resumed = decode_all(
        samples,
        work_dir,
        resolution=entry.resolution,
        resize_filter=entry.resize_filter,
        workers=workers,
        chunk_size=chunk_size,
        plan={"name": entry.name, "classes": raw.classes},
        progress=lambda line: log(f"{entry.name}: {line}"),
    )
    failed = {row for row, _ in failures}
    skipped = [(samples[row].source_id, reason) for row, reason in failures]
    for source_id, reason in skipped[:20]:
        log(f"{entry.name}: skipped {source_id}: {reason}")
    if len(skipped) > 20:
        log(f"{entry.name}: ... {len(skipped) - 20} more skipped (listed in meta.json)")
    keep = np.array([i for i in range(len(samples)) if i not in failed], dtype=np.int64)
    if len(keep) == 0:
        raise DatasetError(
            f"{entry.name}: none of the {len(samples)} images under {source} could be read "
            f"(first: {skipped[0][0]}: {skipped[0][1]})"
        )
    kept = [samples[i] for i in keep]
    labels = np.array([s.label for s in kept], dtype=np.int64)
    splits = assign_splits(labels, [s.split for s in kept], [s.group for s in kept], split)
    compact(work_dir, keep)
    (work_dir / PLAN_FILE).unlink()  # first: a run killed from here on starts over instead of resuming
    shutil.rmtree(work_dir / CHUNKS_DIR)
    index = pd.DataFrame({"label": labels, "split": splits, "source_id": [s.source_id for s in kept]})
    extra = {
        "source_format": entry.format,
        "resize_filter": entry.resize_filter,
        "num_skipped": len(skipped),
        "skipped": [{"source_id": s, "reason": r} for s, r in skipped[:MAX_SKIPPED_IN_META]],
    }
    store = finalize_store(work_dir, out, index, raw.classes, name=entry.name, split=split, extra_meta=extra)
    if entry.images and abs(len(kept) - entry.images) > 0.01 * entry.images:
        log(f"{entry.name}: note: {len(kept)} images stored; the published dataset has {entry.images}")
    return PrepareResult(
        store, decoded=decoded, skipped=skipped, resumed_chunks=resumed, seconds=time.perf_counter() - started
    )


def survey_source(entry: DatasetEntry, source: str | Path, *, class_map: str | Path | None = None) -> str:
    """What prepare would pack from `source`, without decoding anything (`--dry-run`)."""
    raw = read_source(source, entry, class_map=Path(class_map) if class_map else None)
    counts: dict[int, int] = {}
    splits: dict[str, int] = {}
    for sample in raw.samples:
        counts[sample.label] = counts.get(sample.label, 0) + 1
        splits[sample.split or "hold-out pool"] = splits.get(sample.split or "hold-out pool", 0) + 1
    per_class = ", ".join(f"{raw.classes[k]} {n}" for k, n in sorted(counts.items())[:10])
    more = f", ... ({len(raw.classes)} classes)" if len(raw.classes) > 10 else ""
    by_split = ", ".join(f"{n} {s}" for s, n in splits.items())
    return (
        f"{entry.name}: would pack {sum(counts.values())} images ({by_split}) at {entry.resolution} px, "
        f"split {entry.split['policy']}; per class: {per_class}{more}"
    )


def _generate(entry: DatasetEntry, out: Path, *, seed: int, force: bool, started: float) -> PrepareResult:
    """Synthetic datasets need no source: generated by pipeline.data.synthetic (imported only here)."""
    if is_store(out) and not force:
        store = open_store(out)
        if store.meta.get("split", {}).get("seed", seed) == seed:
            return PrepareResult(store, already=True)
    from pipeline.data import synthetic

    store = synthetic.generate(entry, out, seed=seed)
    return PrepareResult(store, decoded=int(store.meta["num_images"]), seconds=time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline prepare",
        description="Pack a dataset's public files into a training store (resumable, idempotent).",
    )
    parser.add_argument("dataset", help="catalogue name (see datasets/) or the path of your own dataset YAML")
    parser.add_argument(
        "--source", help="folder with the dataset's public files (not needed for synthetic data)"
    )
    parser.add_argument("--data-root", default="data", help="prepared stores live at DATA_ROOT/<dataset>/")
    parser.add_argument("--out", help="store folder (default DATA_ROOT/<dataset>)")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: all cores)")
    parser.add_argument(
        "--split-seed", type=int, default=None, help="seed of the hold-out split (default: catalogue)"
    )
    parser.add_argument(
        "--map", dest="class_map", help="map_clsloc.txt for the C17 formats (default: found in --source)"
    )
    parser.add_argument("--chunk-size", type=int, default=256, help="images per resumable chunk")
    parser.add_argument("--force", action="store_true", help="rebuild a store that already exists")
    parser.add_argument(
        "--dry-run", action="store_true", help="check the source layout and count, decode nothing"
    )
    args = parser.parse_args(argv)
    entry = load_entry(args.dataset)
    if args.dry_run:
        if entry.format == "synthetic" or args.source is None:
            raise DatasetError(f"{entry.name}: --dry-run checks a --source folder; give one")
        print(survey_source(entry, args.source, class_map=args.class_map))
        return 0
    out = Path(args.out) if args.out else Path(args.data_root) / entry.name
    last = [0.0]
    tty = sys.stderr.isatty()

    def progress(line: str) -> None:
        """Counts on one line, rewritten in place on a terminal (else every 10 s); messages each on a line."""
        is_count = line.endswith(" skipped")
        if is_count and time.monotonic() - last[0] < (0.5 if tty else 10.0):
            return
        last[0] = time.monotonic() if is_count else last[0]
        print(("\r" if tty else "") + line, end="" if tty and is_count else "\n", file=sys.stderr, flush=True)

    result = prepare_dataset(
        entry,
        args.source,
        out,
        workers=args.workers,
        split_seed=args.split_seed,
        class_map=args.class_map,
        force=args.force,
        chunk_size=args.chunk_size,
        log=progress,
    )
    if tty and last[0]:
        print(file=sys.stderr)
    print(result.summary())
    return 0
