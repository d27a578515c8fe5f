"""Synthetic study results in the real formats, for tests and the report benchmark.

Architectures are drawn roughly as AnyNetX samples are (log-uniform depth and width, b ∈ {1, 2, 4}, g ≤ 32);
errors come from a latent-factor model, so tasks' rankings are correlated by construction: every architecture
has a few latent "quality" scores, each task mixes them with its own loadings, adds a depth effect and noise.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd

T22_TASKS = {  # task -> (classes, metric)
    "imagenet": (1000, "top5"),
    "imagenet-100": (100, "top5"),
    "imagenet-10": (10, "top1"),
    "imagenet-5": (5, "top1"),
    "imagenet-2": (2, "top1"),
    "concrete": (2, "top1"),
    "mlc2008": (9, "top1"),
    "ham10000": (7, "top1"),
    "powerline": (2, "top1"),
    "insects": (291, "top5"),
    "natural": (6, "top1"),
    "cifar10": (10, "top1"),
    "cifar100": (100, "top5"),
}


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


def synthetic_architectures(n: int, seed: int = 0) -> pd.DataFrame:
    """n AnyNetX-like architectures with list and flat per-stage columns and made-up complexity."""
    rng = np.random.default_rng(_seed("archs", seed))
    d = np.round(np.exp(rng.uniform(0, np.log(16), (n, 4)))).astype(int)
    w = (np.round(np.exp(rng.uniform(np.log(8), np.log(1024), (n, 4))) / 8) * 8).astype(int)
    b = rng.choice([1, 2, 4], (n, 4))
    g = rng.integers(1, 33, (n, 4))
    flops = (d * w**2 / b).sum(1) * 40 + 3e8
    df = pd.DataFrame(
        {
            "arch_id": np.arange(n),
            "depths": list(d),
            "widths": list(w),
            "bottleneck_ratios": list(b),
            "group_widths": list(g),
            "flops": flops.astype(np.int64),
            "params": ((d * w**2 / b).sum(1) * 3).astype(np.int64),
            "acts": (d * w).sum(1).astype(np.int64) * 50,
            "cum_depth": d.sum(1),
            "cum_width": w.sum(1),
        }
    )
    for j in range(4):
        for letter, arr in zip("dwbg", (d, w, b, g), strict=True):
            df[f"{letter}{j + 1}"] = arr[:, j]
    return df


def synthetic_runs(
    archs: pd.DataFrame, tasks: dict[str, tuple[int, str]], seed: int = 0, seeds: int = 1
) -> pd.DataFrame:
    """One ok run per (architecture, task, seed) with correlated errors between 5 % and 80 % of chance, a
    final training loss below chance, and flops/params at the task's crop size (32 px for CIFAR)."""
    n = len(archs)
    rng = np.random.default_rng(_seed("runs", seed))
    latent = rng.normal(size=(n, 3))
    depth = (archs["cum_depth"] - archs["cum_depth"].mean()) / archs["cum_depth"].std()
    rows = []
    for task, (classes, metric) in tasks.items():
        trng = np.random.default_rng(_seed("task", seed, task))
        loadings = trng.normal(size=3) + np.array([1.0, 0, 0])
        score = latent @ loadings + trng.normal(0, 0.5) * depth.to_numpy()
        # errors well below chance (as trained networks have), so no task reads as barely trained
        top = 5 if metric == "top5" else 1
        chance = 100 * (1 - top / classes) if classes > top else 50.0  # top-5 of ≤ 5 classes: a nominal scale
        resolution = 32 if task.startswith("cifar") else 224
        for s in range(seeds):
            noisy = score + trng.normal(0, 0.6, n)
            mid, spread = trng.uniform(0.2, 0.6) * chance, trng.uniform(0.04, 0.12) * chance
            error = mid + spread * (noisy - noisy.mean()) / noisy.std()
            error = np.clip(error, 0.05 * chance, 0.8 * chance)
            rows.append(
                pd.DataFrame(
                    {
                        "run_key": [f"{task}-{a}-{s}" for a in archs["arch_id"]],
                        "arch_id": archs["arch_id"],
                        "task": task,
                        "dataset": re.sub(r"-\d+$", "", task),
                        "seed": s,
                        "epochs": 10,
                        "metric": metric,
                        "error": error,
                        "top1_err": error,
                        "top5_err": error / 2,
                        "status": "ok",
                        "num_classes": classes,
                        "final_loss": np.log(classes) * 0.8 * error / chance,
                        "flops": (archs["flops"] * (resolution / 224) ** 2).astype(np.int64),
                        "params": archs["params"],
                        "resolution": resolution,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def write_study(folder, n_archs: int = 60, tasks: dict | None = None, seed: int = 0, seeds: int = 1) -> None:
    """Write architectures.parquet and runs.parquet of a synthetic study into `folder`."""
    archs = synthetic_architectures(n_archs, seed)
    runs = synthetic_runs(archs, tasks or T22_TASKS, seed, seeds)
    folder.mkdir(parents=True, exist_ok=True)
    archs.to_parquet(folder / "architectures.parquet", index=False)
    runs.to_parquet(folder / "runs.parquet", index=False)
