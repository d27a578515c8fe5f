"""Prepare throughput: our parallel prepare vs a single-process Pillow loop like C17's script.

Both read the same generated 256×256 JPEGs (smooth colour fields with noise, quality 90, in two class
folders) and resize them to 32×32 with Pillow's box filter. The baseline is the loop of C17's
downsampling script: open, convert("RGB"), resize, np.array, one process. Ours is
`prepare_dataset` with all cores (decode + resize in a process pool writing into a memmap, then the
split, mean/std and the atomic rename), timed end to end. The script asserts that both produce identical
pixels for every image, then prints images/s for each and the ratio.

    python tests/benchmarks/bench_prepare.py [--n 3000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.data.catalogue import load_entry
from pipeline.data.prepare import prepare_dataset


def make_jpegs(root: Path, n: int, size: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    paths = []
    for i in range(n):
        a, b, c = rng.uniform(0, 255, size=(3, 3))
        base = np.stack([a[k] * xx + b[k] * yy + c[k] * xx * yy for k in range(3)], axis=-1) / 2
        pixels = np.clip(base + rng.normal(0, 20, size=base.shape), 0, 255).astype(np.uint8)
        path = root / ("cats" if i % 2 else "dogs") / f"{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (the pool's workers), user + system."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def baseline(paths: list[Path], out_size: int) -> np.ndarray:
    """C17-style: one process, open -> convert('RGB') -> resize(box) -> array."""
    images = np.empty((len(paths), out_size, out_size, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        image = Image.open(path).convert("RGB")
        images[i] = np.array(image.resize((out_size, out_size), Image.Resampling.BOX))
    return images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=2, help="best of R timings of each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = make_jpegs(tmp / "src", args.n, args.size)
        entry = replace(load_entry("imagefolder"), name="bench", classes=("cats", "dogs"),
                        resolution=args.out_size, resize_filter="box")  # fmt: skip
        base_times, ours_times, base_cpu, ours_cpu = [], [], [], []
        for r in range(args.repeats):
            t0, c0 = time.perf_counter(), cpu_seconds()
            reference = baseline(paths, args.out_size)
            base_times.append(time.perf_counter() - t0)
            base_cpu.append(cpu_seconds() - c0)
            t0, c0 = time.perf_counter(), cpu_seconds()
            result = prepare_dataset(entry, tmp / "src", tmp / f"store{r}", workers=args.workers,
                                     log=lambda line: None)  # fmt: skip
            ours_times.append(time.perf_counter() - t0)
            ours_cpu.append(cpu_seconds() - c0)
        store = result.store
        by_path = {p.relative_to(tmp / "src").as_posix(): i for i, p in enumerate(paths)}
        order = np.array([by_path[s] for s in store.source_ids])
        assert len(order) == len(paths)
        np.testing.assert_array_equal(np.asarray(store.images), reference[order])  # identical pixels
        base, ours = min(base_times), min(ours_times)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{args.n} JPEGs {args.size}px -> {args.out_size}px box, {os.cpu_count()} cores (load {load}), "
              f"best of {args.repeats}")  # fmt: skip
        bc, oc = min(base_cpu), min(ours_cpu)
        rows = [
            ("baseline (1 process, C17 loop)", base, bc),
            (f"prepare ({args.workers} workers, end to end)", ours, oc),
        ]
        for label, wall, cpu in rows:
            print(f"{label:<36} {args.n / wall:6.0f} images/s  ({wall:.2f} s wall, {cpu:.2f} s CPU, "
                  f"{cpu / args.n * 1e3:.2f} ms CPU per image)")  # fmt: skip
        print(f"ratio: {base / ours:.2f}x   pixels identical: yes")


if __name__ == "__main__":
    main()
