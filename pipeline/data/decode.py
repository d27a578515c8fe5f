"""The decode engine of prepare and downsample: raw samples → one uint8 (N, r, r, 3) array, resumably.

A pool of processes decodes the samples in chunks of consecutive rows, converts to RGB and resizes to `r`
(Pillow, readers/images.py), writing straight into a preallocated `images.npy` memmap in a work folder;
each finished chunk leaves a done marker with the samples it had to skip. An interrupted run resumes at
the first chunk without a marker, but only when every parameter that decides the bytes and the meaning of
the markers is the same (the sample list, resolution, filter and chunk size are pinned in `plan.json`);
otherwise it starts over and says so — it never mixes two runs' chunks.

Faults: the space the array needs is checked before anything is written and then reserved with
posix_fallocate, so a full disk is one DiskError up front, never a SIGBUS from the memmap later; a
decoding process that dies (OOM killer, signal) ends the run with one error instead of a hung pool, and
finished chunks are kept for the next attempt.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import fsio
from pipeline.data.readers import ArrayRow, Sample
from pipeline.data.readers.images import load_pixels
from pipeline.data.store import IMAGES_FILE
from pipeline.errors import DatasetError
from pipeline.progress import Progress, eta

PLAN_FILE, CHUNKS_DIR, COMPACTING = "plan.json", "chunks", "compacting"


@dataclass
class Decoded:
    failures: list[tuple[int, str]]  # (row, reason) of samples that could not be decoded
    decoded: int  # samples decoded in this call
    resumed_chunks: int  # chunks found done from an earlier, interrupted call


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
    fsio.write_json(
        {"start": start, "stop": stop, "failures": failures}, _WORKER["marks"] / f"{chunk_id}.json"
    )
    return chunk_id, stop - start, failures


def image_bytes(n: int, resolution: int) -> int:
    return n * resolution * resolution * 3


def _start_over_reason(old: Any, new: dict[str, Any], work_dir: Path) -> str | None:
    if (work_dir / COMPACTING).exists():
        return "the interrupted run was killed while compacting"
    if not isinstance(old, dict):
        return "its plan is missing or damaged"
    changed = [k for k in new if old.get(k) != new[k]]
    return f"it used another {', '.join(changed)}" if changed else None


def decode_all(
    samples: Sequence[Sample],
    work_dir: Path,
    *,
    resolution: int,
    resize_filter: str = "box",
    workers: int | None = None,
    chunk_size: int = 256,
    plan: dict[str, Any] | None = None,
    progress: Callable[[Progress], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> Decoded:
    """Decode every sample into `work_dir/images.npy` (N, r, r, 3), resuming from done markers."""
    plan = {
        **(plan or {}),
        "n": len(samples),
        "resolution": resolution,
        "resize_filter": resize_filter,
        "chunk_size": chunk_size,
        "samples": _digest(samples),
    }
    plan_path, marks = work_dir / PLAN_FILE, work_dir / CHUNKS_DIR
    if work_dir.exists():
        reason = _start_over_reason(fsio.read_json_or(plan_path), plan, work_dir)
        if reason:
            if log and (marks.is_dir() and any(marks.iterdir())):
                log(f"starting over: an interrupted run left {work_dir}, but {reason}")
            shutil.rmtree(work_dir)
    images_path = work_dir / IMAGES_FILE
    if not images_path.exists():
        fsio.require_space(
            work_dir.parent,
            image_bytes(len(samples), resolution),
            f"decoding {len(samples):,} images at {resolution} px",
        )
        marks.mkdir(parents=True, exist_ok=True)
        try:
            np.lib.format.open_memmap(
                images_path, mode="w+", dtype=np.uint8, shape=(len(samples), resolution, resolution, 3)
            )
            fsio.allocate(images_path, images_path.stat().st_size)
        except BaseException:
            shutil.rmtree(work_dir, ignore_errors=True)
            raise
        fsio.write_json(plan, plan_path)
    chunks = make_chunks(samples, chunk_size)
    done = {int(p.stem) for p in marks.glob("*.json")}
    todo = [(i, a, b) for i, (a, b) in enumerate(chunks) if i not in done]
    total, finished = len(samples), sum(b - a for i, (a, b) in enumerate(chunks) if i in done)
    initargs = (str(images_path), samples, resolution, resize_filter, str(marks))
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    started, decoded, skipped = time.monotonic(), 0, 0

    def report(count: int, failures: list) -> None:
        nonlocal decoded, skipped
        decoded += count
        skipped += len(failures)
        if progress:
            elapsed = time.monotonic() - started
            progress(
                Progress(
                    finished + decoded,
                    total,
                    elapsed,
                    eta(finished + decoded, finished, total, elapsed),
                    unit="images",
                    note=f"{skipped} skipped",
                )
            )

    if workers == 1:
        _init_worker(*initargs)
        try:
            for task in todo:
                _, count, failures = _decode_chunk(task)
                report(count, failures)
        finally:
            _WORKER.clear()
    else:
        _decode_in_pool(todo, workers, initargs, report)
    failures = [tuple(f) for p in sorted(marks.glob("*.json")) for f in fsio.read_json(p)["failures"]]
    return Decoded(sorted(failures), decoded, len(done))


def _decode_in_pool(todo: list, workers: int, initargs: tuple, report: Callable) -> None:
    """Run the chunks on a process pool; a dead worker is one clear error (the pool cannot hang)."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context(method), initializer=_init_worker, initargs=initargs
    )
    try:
        pending = {pool.submit(_decode_chunk, task) for task in todo}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                _, count, failures = future.result()
                report(count, failures)
    except BrokenProcessPool:
        raise DatasetError(
            "a decoding process died (killed by a signal or the out-of-memory killer); finished chunks are "
            "kept: run the same command again to resume, with fewer --workers if memory is short"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


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
