"""Augmented 32×32 training batches per second: our DeviceLoader vs torchvision ImageFolder + DataLoader.

Both sides see the same images (synthetic "shapes", written once as PNGs into a temporary ImageFolder and
once into a packed store) and do the same augmentation: 4-px zero-padded random crop to 32, horizontal flip,
per-channel normalisation, float32 NCHW batches of `--batch-size`.

- baseline: `ImageFolder` + `RandomCrop(32, padding=4)`, `RandomHorizontalFlip()`, `ToTensor()`,
  `Normalize(mean, std)`; `DataLoader(shuffle=True, num_workers=2, persistent_workers=True, drop_last=True)`.
  One warm-up epoch (worker start-up and the page cache excluded), then `--epochs` timed epochs.
- ours: `DeviceLoader(store, "train", train=True, crop_size=32, device=cpu)`; the one-off load (memmap →
  resident tensor) is reported separately; one warm-up epoch, then timed epochs (`set_epoch` each). The
  streaming fallback (forced with `max_resident_bytes=0`) is timed the same way.

Timing covers iterating the batches only (no model). Wall clock, `time.perf_counter`, best of the timed
epochs' mean; the CPU is shared, so the load average at the start is printed with the figures. On a
busy 2-core machine `--threads 1` avoids intra-op barrier stalls in our process (the baseline's workers
are single-threaded processes anyway).

    python tests/benchmarks/bench_loader.py            # 5,000 images, batch 256
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pipeline.data.loader import DeviceLoader
from pipeline.data.store import write_store
from pipeline.data.synthetic import make_synthetic


def write_image_folder(root: Path, images: np.ndarray, labels: np.ndarray, classes: list[str]) -> None:
    for name in classes:
        (root / name).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(image).save(root / classes[label] / f"{i:06d}.png")


def time_epochs(iterate, epochs: int) -> tuple[float, int]:
    """(seconds per epoch, images per epoch), after one untimed warm-up epoch."""
    iterate(-1)
    count, started = 0, time.perf_counter()
    for epoch in range(epochs):
        count += iterate(epoch)
    return (time.perf_counter() - started) / epochs, count // epochs


def bench_torchvision(root: Path, mean, std, batch_size: int, epochs: int, workers: int) -> tuple[float, int]:
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    data = datasets.ImageFolder(str(root), transform=transform)
    loader = torch.utils.data.DataLoader(
        data, batch_size=batch_size, shuffle=True, num_workers=workers, persistent_workers=workers > 0,
        drop_last=True,
    )  # fmt: skip

    def iterate(_epoch: int) -> int:
        return sum(len(y) for _, y in loader)

    return time_epochs(iterate, epochs)


def bench_ours(loader: DeviceLoader, epochs: int) -> tuple[float, int]:
    def iterate(epoch: int) -> int:
        loader.set_epoch(epoch)
        return sum(len(y) for _, y in loader)

    return time_epochs(iterate, epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs of the baseline")
    parser.add_argument("--our-epochs", type=int, default=20, help="timed epochs of our loader")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads of this process (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    images, labels, classes = make_synthetic("shapes", args.images, 0, 32, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_image_folder(tmp / "folder", images, labels, classes)
        store = write_store(tmp / "store", images, labels, ["train"] * len(images), classes, name="bench")
        started = time.perf_counter()
        ours = DeviceLoader(store, "train", batch_size=args.batch_size, train=True, crop_size=32, seed=0)
        load_s = time.perf_counter() - started
        ours_s, ours_n = bench_ours(ours, args.our_epochs)
        streamed = DeviceLoader(
            store, "train", batch_size=args.batch_size, train=True, crop_size=32, seed=0, max_resident_bytes=0
        )
        stream_s, stream_n = bench_ours(streamed, max(1, args.our_epochs // 4))
        base_s, base_n = bench_torchvision(
            tmp / "folder", store.mean, store.std, args.batch_size, args.epochs, args.workers
        )
    rate = {"ours": ours_n / ours_s, "stream": stream_n / stream_s, "torchvision": base_n / base_s}
    batches = {k: v / args.batch_size for k, v in rate.items()}
    print(
        f"{args.images} images 32x32, batch {args.batch_size}, flip + 4-px padded crop + normalise, float32"
    )
    names = {
        "torchvision": f"torchvision ImageFolder + DataLoader(num_workers={args.workers})",
        "ours": f"DeviceLoader resident, cpu (one-off load {load_s * 1e3:.0f} ms)",
        "stream": "DeviceLoader streaming fallback, cpu",
    }
    for key, label in names.items():
        print(f"{label:<58} {rate[key]:9.0f} img/s {batches[key]:8.1f} batches/s")
    print(
        f"ratio resident/torchvision {rate['ours'] / rate['torchvision']:.1f}x, "
        f"streaming/torchvision {rate['stream'] / rate['torchvision']:.1f}x"
    )


if __name__ == "__main__":
    main()
