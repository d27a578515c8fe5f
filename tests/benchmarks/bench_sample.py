"""Benchmark: sampling n in-band AnyNetX architectures, vectorised sampler vs a one-draw-at-a-time loop.

Measures, in one process and run, wall-clock time (time.perf_counter, after imports and one warm-up call)
for `anynet.sample_archs(n, seed)` (numpy batches: draw, adjust, count flops, band, dedup) and for a naive
Python loop that does the same per draw: draw 16 log-uniform values with `random.Random`, `Arch` after
`adjust_compatibility`, scalar `complexity`, band check, dedup. Both use the T22 band (360-400 MF at
224×224, 1000 classes, strides 1,2,2,2). Prints the median time of each for n architectures, their
draws per second, and the ratio. Target: n=500 in < 2 s with the vectorised sampler on a 2-core machine.

    python tests/benchmarks/bench_sample.py                 # n=500, 5 repeats of the vectorised sampler
    python tests/benchmarks/bench_sample.py --n 500 --repeats 3 --naive-repeats 1
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from anynet import Arch, adjust_compatibility, complexity, sample_archs


def _log_uniform_int(rnd: random.Random, lo: int, hi: int, q: int) -> int:
    """pycls's log_uniform: x in (lo - min(q, lo/2), hi] log-uniformly, rounded up to a multiple of q."""
    x = math.exp(-rnd.uniform(-math.log(hi), -math.log(lo - min(q, lo / 2))))
    return min(max(math.ceil(x / q) * q, lo), hi)


def naive_sample(n: int, seed: int, lo: float = 360e6, hi: float = 400e6) -> tuple[list[Arch], int]:
    """The baseline: one draw at a time in Python, the same rules as `sample_archs` (another RNG)."""
    rnd = random.Random(seed)
    kept: list[Arch] = []
    seen: set[Arch] = set()
    draws = 0
    while len(kept) < n:
        draws += 1
        depths = [_log_uniform_int(rnd, 1, 16, 1) for _ in range(4)]
        widths = [_log_uniform_int(rnd, 8, 1024, 8) for _ in range(4)]
        ratios = [rnd.choice((1, 2, 4)) for _ in range(4)]
        groups = [_log_uniform_int(rnd, 1, 32, 1) for _ in range(4)]
        widths, groups = adjust_compatibility(widths, ratios, groups)
        if max(widths) > 1024:
            continue
        arch = Arch(depths, widths, ratios, groups)
        if lo <= complexity(arch)["flops"] <= hi and arch not in seen:
            seen.add(arch)
            kept.append(arch)
    return kept, draws


def _timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--naive-repeats", type=int, default=1)
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")  # fmt: skip
    sample_archs(20, args.seed + 1)  # warm-up
    fast_s, fast = _timed(lambda: sample_archs(args.n, args.seed), args.repeats)
    naive_s, (_, naive_draws) = _timed(lambda: naive_sample(args.n, args.seed), args.naive_repeats)
    fast_rate, naive_rate = fast.draws / fast_s, naive_draws / naive_s
    print(
        f"vectorised sample_archs: {args.n} in-band in {fast_s:.3f} s (median of {args.repeats}), "
        f"{fast.draws:,} draws, {fast_rate:,.0f} draws/s, acceptance {100 * fast.acceptance_rate:.2f}%"
    )
    print(
        f"naive one-draw loop:     {args.n} in-band in {naive_s:.3f} s (median of {args.naive_repeats}), "
        f"{naive_draws:,} draws, {naive_rate:,.0f} draws/s"
    )
    print(f"ratio: vectorised is {fast_rate / naive_rate:.0f}x the naive loop in draws/s, "
          f"{naive_s / fast_s:.0f}x in time to {args.n} architectures")  # fmt: skip
    print(f"target n=500 < 2 s: {'met' if args.n != 500 or fast_s < 2 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
