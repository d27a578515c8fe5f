"""Benchmark: start-up cost of the light commands, against bare imports of the libraries they need.

Measures, in one run, the wall time (time.perf_counter around a subprocess, median of `--repeats`) of
  baseline   python -c "import numpy, pandas, pyarrow.parquet"
  sample     python -m pipeline.sample --n 500 --seed 0 --out <tmp>/a.parquet
  help       python -m pipeline status --help
  torch      python -c "import torch, timm"   (what every command paid before the lazy anynet)
and, for `sample`, whether `python -X importtime` lists any torch or timm module (it must not).
Prints each median and its difference to the baseline.

    python tests/benchmarks/bench_import.py --repeats 5
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _seconds(args: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "a.parquet")
        sample = ["-m", "pipeline.sample", "--n", "500", "--seed", "0", "--out", out]
        command = [sys.executable, "-X", "importtime", *sample]
        listing = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True).stderr
        heavy = sorted({line.rsplit("|", 1)[-1].strip().split(".")[0] for line in listing.splitlines()
                        if line.startswith("import time:")} & {"torch", "timm", "torchvision"})  # fmt: skip
        rows = {
            "baseline: import numpy, pandas, pyarrow.parquet": _seconds(
                ["-c", "import numpy, pandas, pyarrow.parquet"], args.repeats
            ),
            "python -m pipeline.sample --n 500": _seconds(sample, args.repeats),
            "python -m pipeline status --help": _seconds(
                ["-m", "pipeline", "status", "--help"], args.repeats
            ),
            "import torch, timm (for scale)": _seconds(["-c", "import torch, timm"], args.repeats),
        }
    print(f"python {platform.python_version()}, {args.repeats} repeats, median wall seconds")
    base = next(iter(rows.values()))
    for name, seconds in rows.items():
        print(f"  {name:<48} {seconds:6.2f} s  ({seconds - base:+.2f} s vs baseline)")
    print(f"torch/timm modules imported by sample: {heavy or 'none'}")


if __name__ == "__main__":
    main()
