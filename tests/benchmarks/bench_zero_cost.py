"""Seconds per architecture of the five zero-cost predictors, against one training step of the same batch.

Two workloads, each with its baseline in the same run:
- demo: `anynet.sample_archs(10, 0, flops_range=(20e6, 40e6))` (T22 strides), 32 px, batch 64, 12 classes;
  figures are medians over the 10 architectures.
- 375 MF: the (1,2,2,2) AnyNetX 2,1,6,2 / 24,40,96,512 / b 1,2,4,1 / g 3,5,6,32 of STUDY.md's table
  (375,014,120 flops at 224 px, 1000 classes), at 224 px, batch `--big-batch` (64 by default), 1000 classes.

- baseline: one plain forward + backward pass of the batch (train mode, mean cross-entropy, gradients of
  every parameter), on a freshly built model; no optimizer step.
- predictors: `anynet.zero_cost.score_all` on the same batch; each predictor's own seconds (score_all times
  the predictor alone, not the model build).

Images are N(0, 1) pixels (already "normalised") and uniform labels from a seeded generator. One warm-up
baseline pass per workload keeps allocator and kernel start-up out of the figures. Wall clock,
`time.perf_counter`; one torch thread by default (`--threads`): on the shared 2-core machine a second thread
stalls on a busy core. The load average is printed at start. `--device cuda` runs the same on a GPU
(synchronised), for context only.

    python tests/benchmarks/bench_zero_cost.py [--threads 1] [--big-batch 64] [--skip-big] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

from anynet.arch import Arch
from anynet.complexity import complexity
from anynet.model import build_model
from anynet.sampler import sample_archs
from anynet.zero_cost import PREDICTORS, score_all

BIG_ARCH = Arch((2, 1, 6, 2), (24, 40, 96, 512), (1, 2, 4, 1), (3, 5, 6, 32), strides=(1, 2, 2, 2))
BIG_FLOPS = 375_014_120


def baseline_step(arch: Arch, num_classes: int, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Seconds of one forward + backward pass of a freshly built model (build not timed)."""
    torch.manual_seed(0)
    model = build_model(arch, num_classes).to(images.device).train()
    start = time.perf_counter()
    F.cross_entropy(model(images), labels).backward()
    _sync(images.device)
    return time.perf_counter() - start


def measure(archs: list[Arch], num_classes: int, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """{'baseline': [s per arch], name: [s per arch], ...} and the scores, for one workload."""
    baseline_step(archs[0], num_classes, images, labels)  # warm-up
    seconds: dict[str, list[float]] = {"baseline": [], **{name: [] for name in PREDICTORS}}
    for arch in archs:
        seconds["baseline"].append(baseline_step(arch, num_classes, images, labels))
        results = score_all(lambda a=arch: build_model(a, num_classes), images, labels, device=images.device)
        for name, (_, s) in results.items():
            seconds[name].append(s)
    return seconds


def table(title: str, seconds: dict[str, list[float]]) -> None:
    base = statistics.median(seconds["baseline"])
    total = [sum(s) for s in zip(*(seconds[name] for name in PREDICTORS), strict=True)]
    print(f"\n{title}")
    print(f"{'':<22}{'s/arch (median)':>16}{'x baseline':>12}")
    for name, values in [*seconds.items(), ("all five", total)]:
        median = statistics.median(values)
        print(f"{name:<22}{median:>16.3f}{median / base:>12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--big-batch", type=int, default=64)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(
        f"load average {os.getloadavg()}, cores {os.cpu_count()}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, device {device}"
    )
    generator = torch.Generator().manual_seed(0)

    demo = sample_archs(10, 0, flops_range=(20e6, 40e6)).archs()
    images = torch.randn(64, 3, 32, 32, generator=generator).to(device)
    labels = torch.randint(0, 12, (64,), generator=generator).to(device)
    table(
        f"demo: {len(demo)} AnyNetX of 20-40 MF, 32 px, batch 64, 12 classes",
        measure(demo, 12, images, labels),
    )

    if not args.skip_big:
        assert complexity(BIG_ARCH)["flops"] == BIG_FLOPS  # the STUDY.md table's network
        n = args.big_batch
        images = torch.randn(n, 3, 224, 224, generator=generator).to(device)
        labels = torch.randint(0, 1000, (n,), generator=generator).to(device)
        title = f"375 MF AnyNetX (2,1,6,2 / 24,40,96,512), 224 px, batch {n}, 1000 classes"
        table(title, measure([BIG_ARCH], 1000, images, labels))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
