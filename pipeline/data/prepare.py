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

import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import fsio
from pipeline.cli import ArgumentParser
from pipeline.data.catalogue import DatasetEntry, load_entry
from pipeline.data.decode import CHUNKS_DIR, PLAN_FILE, compact, decode_all
from pipeline.data.readers import read_source
from pipeline.data.splits import assign_splits, split_meta
from pipeline.data.store import FORMAT_VERSION, Store, finalize_store, is_store, open_store
from pipeline.errors import DatasetError
from pipeline.progress import Printer, Progress
from pipeline.validate import non_negative_int, positive_int

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
    progress: Callable[[Progress], None] | None = None,
) -> PrepareResult:
    """Pack `entry`'s raw files under `source` into the store at `out` (see the module docstring).

    `log` receives messages (skipped images, notes); `progress` the decoding counts as they change."""
    started = time.perf_counter()
    log = log or (lambda line: print(line, file=sys.stderr))
    out = Path(out)
    fsio.require_writable(out.parent, option="--data-root or --out")
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
    if is_store(out) and not force and _current_version(out):
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
    result = decode_all(
        samples,
        work_dir,
        resolution=entry.resolution,
        resize_filter=entry.resize_filter,
        workers=workers,
        chunk_size=chunk_size,
        plan={"name": entry.name, "classes": raw.classes},
        progress=progress,
        log=lambda line: log(f"{entry.name}: {line}"),
    )
    failures, decoded, resumed = result.failures, result.decoded, result.resumed_chunks
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


def _current_version(path: Path) -> bool:
    """Whether the store at `path` was written in this code's format (older ones are rebuilt)."""
    meta = fsio.read_json_or(path / "meta.json", {})
    return isinstance(meta, dict) and meta.get("format_version") == FORMAT_VERSION


def _generate(entry: DatasetEntry, out: Path, *, seed: int, force: bool, started: float) -> PrepareResult:
    """Synthetic datasets need no source: generated by pipeline.data.synthetic (imported only here).
    A store of an older format is generated again (it is cheap and its old fingerprint is not content)."""
    if is_store(out) and not force and _current_version(out):
        store = open_store(out)
        if store.meta.get("split", {}).get("seed", seed) == seed:
            return PrepareResult(store, already=True)
    from pipeline.data import synthetic

    store = synthetic.generate(entry, out, seed=seed)
    return PrepareResult(store, decoded=int(store.meta["num_images"]), seconds=time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m pipeline prepare",
        description="Pack a dataset's public files into a training store (resumable, idempotent).",
    )
    parser.add_argument("dataset", help="catalogue name (see datasets/) or the path of your own dataset YAML")
    parser.add_argument(
        "--source", help="folder with the dataset's public files (not needed for synthetic data)"
    )
    parser.add_argument("--data-root", default="data", help="prepared stores live at DATA_ROOT/<dataset>/")
    parser.add_argument("--out", help="store folder (default DATA_ROOT/<dataset>)")
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="decoding processes (default: all cores)"
    )
    parser.add_argument(
        "--split-seed",
        type=non_negative_int,
        default=None,
        help="seed of the hold-out split (default: catalogue)",
    )
    parser.add_argument(
        "--map", dest="class_map", help="map_clsloc.txt (C17 formats; ImageNet's flat val without a devkit)"
    )
    parser.add_argument("--chunk-size", type=positive_int, default=256, help="images per resumable chunk")
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
    printer = Printer()
    result = prepare_dataset(
        entry,
        args.source,
        out,
        workers=args.workers,
        split_seed=args.split_seed,
        class_map=args.class_map,
        force=args.force,
        chunk_size=args.chunk_size,
        log=printer.message,
        progress=printer,
    )
    print(result.summary())
    return 0
