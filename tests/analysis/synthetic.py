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
import yaml

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


# ---- constructed studies with a known truth: seed noise, a proxy ladder, zero-cost scores ----
def pearson_of(spearman: float) -> float:
    """Pearson r of a bivariate normal whose Spearman ρ is `spearman` (Pearson 1907)."""
    return 2 * np.sin(np.pi * spearman / 6)


def latent_qualities(n: int, spearman: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """n × T normal qualities whose population Spearman ρ between tasks is the matrix `spearman`."""
    pearson = pearson_of(np.asarray(spearman, dtype=float))
    np.fill_diagonal(pearson, 1.0)
    assert np.linalg.eigvalsh(pearson).min() > 0, "the constructed correlations must be positive definite"
    return rng.multivariate_normal(np.zeros(len(pearson)), pearson, size=n)


def run_rows(arch_ids, task: str, seed: int, error, classes: int = 10, metric: str = "top1") -> pd.DataFrame:
    """Ok runs of one task and seed in the real runs.parquet columns (flops/params left out: not needed)."""
    error = np.asarray(error, dtype=float)
    return pd.DataFrame(
        {
            "run_key": [f"{task}-{a}-{seed}" for a in arch_ids],
            "arch_id": np.asarray(arch_ids, dtype=np.int64),
            "task": task,
            "seed": seed,
            "metric": metric,
            "error": error,
            "status": "ok",
            "num_classes": classes,
            "final_loss": 0.5 * np.log(classes),
        }
    )


NOISE_TASKS = {  # task -> (role, single-run reliability (seed-to-seed Spearman), classes, metric)
    "imagenet": ("reference", 0.6, 1000, "top5"),
    "imagenet-10": ("proxy", 0.9, 10, "top1"),
    "cifar10": ("target", 0.7, 10, "top1"),
}
NOISE_LATENT = np.array([[1.0, 0.5, 0.5], [0.5, 1.0, 0.95], [0.5, 0.95, 1.0]])  # noise-free Spearman ρ


def seed_noise_study(
    folder, n_archs: int = 300, replicated: int = 150, extra_seeds=(1, 2), seed: int = 0, study: bool = True
) -> None:
    """A results folder whose tasks have known noise-free agreement (NOISE_LATENT) and known single-run
    reliabilities (NOISE_TASKS): error = 30 + 5·(quality + σ·ε), σ² = 1/p − 1 with p = pearson_of(rel), so
    two seeds correlate with Spearman rel exactly (normal theory). Every architecture has base seed 0; the
    first `replicated` of a seeded permutation also have `extra_seeds`. study.yaml (when `study`) says
    seeds [0] and the replicates, as Study.to_dict() writes them."""
    rng = np.random.default_rng(_seed("noise", seed))
    archs = synthetic_architectures(n_archs, seed)
    quality = latent_qualities(n_archs, NOISE_LATENT, rng)
    drawn = np.sort(rng.permutation(n_archs)[:replicated])
    frames = []
    for t, (task, (_, rel, classes, metric)) in enumerate(NOISE_TASKS.items()):
        sigma = np.sqrt(1 / pearson_of(rel) - 1)
        for s in (0, *extra_seeds):
            ids = np.arange(n_archs) if s == 0 else drawn
            error = 30 + 5 * (quality[ids, t] + sigma * rng.standard_normal(len(ids)))
            frames.append(run_rows(ids, task, s, error, classes, metric))
    folder.mkdir(parents=True, exist_ok=True)
    archs.to_parquet(folder / "architectures.parquet", index=False)
    pd.concat(frames, ignore_index=True).to_parquet(folder / "runs.parquet", index=False)
    if study:
        spec = {
            "name": "noise",
            "reference": "imagenet",
            "seeds": [0],
            "replicates": {"archs": replicated, "seeds": list(extra_seeds), "tasks": None, "seed": 0},
            "tasks": {t: {"role": role, "proxy": "imagenet-10" if role == "target" else None}
                      for t, (role, *_) in NOISE_TASKS.items()},
        }  # fmt: skip
        (folder / "study.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


LADDER_TASKS = {  # task -> (rung {of, factor, value} or role, gpu_hours)
    "imagenet": ("reference", 100.0),
    "imagenet@r16": ({"of": "imagenet", "factor": "resolution", "value": 16}, 5.0),
    "imagenet@e1": ({"of": "imagenet", "factor": "epochs", "value": 1}, 20.0),
    "cifar10": ("target", 10.0),
}
#                           imagenet  @r16   @e1   cifar10: noise-free Spearman ρ
LADDER_LATENT = np.array([[1.00, 0.98, 0.50, 0.60],
                          [0.98, 1.00, 0.49, 0.59],
                          [0.50, 0.49, 1.00, 0.30],
                          [0.60, 0.59, 0.30, 1.00]])  # fmt: skip
ZERO_COST_SIGNAL = {"imagenet": 0.97, "cifar10": 0.3}  # Spearman ρ of `good` with −error, per task


def ladder_study(folder, n_archs: int = 300, seed: int = 0, costs: bool = True, zero_cost: bool = True):
    """A results folder with a two-rung ladder of imagenet (@r16 ranks like it, @e1 does not), a target
    cifar10, costs.parquet (LADDER_TASKS' GPU-hours, MACs ∝ hours) and zero_cost.parquet: `good` scores
    (higher = better) agree with −error by ZERO_COST_SIGNAL, `noise` is unrelated to it, params and flops
    from architectures.parquet; one `good` score is -inf (the worst architecture on cifar10) and one NaN."""
    rng = np.random.default_rng(_seed("ladder", seed))
    archs = synthetic_architectures(n_archs, seed)
    quality = latent_qualities(n_archs, LADDER_LATENT, rng)
    errors = {task: 30 + 5 * quality[:, t] for t, task in enumerate(LADDER_TASKS)}
    runs = pd.concat([run_rows(archs["arch_id"], t, 0, e) for t, e in errors.items()], ignore_index=True)
    folder.mkdir(parents=True, exist_ok=True)
    archs.to_parquet(folder / "architectures.parquet", index=False)
    runs.to_parquet(folder / "runs.parquet", index=False)
    tasks = {
        t: (
            {"role": "proxy", "proxy": None, "rung": kind}
            if isinstance(kind, dict)
            else {"role": kind, "proxy": None}
        )
        for t, (kind, _) in LADDER_TASKS.items()
    }
    spec = {"name": "ladder", "reference": "imagenet", "seeds": [0], "replicates": None, "tasks": tasks}
    (folder / "study.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    if costs:
        hours = np.array([h for _, h in LADDER_TASKS.values()])
        pd.DataFrame(
            {
                "task": list(LADDER_TASKS), "runs": n_archs, "epochs": 10, "train_images": 50_000,
                "eval_images": 10_000, "crop": 32, "mean_mmacs": 40.0, "total_macs": hours * 1e15,
                "gpu_hours": hours,
            }
        ).to_parquet(folder / "costs.parquet", index=False)  # fmt: skip
    if zero_cost:
        zero_cost_scores(archs, errors, rng).to_parquet(folder / "zero_cost.parquet", index=False)


def zero_cost_scores(archs: pd.DataFrame, errors: dict, rng: np.random.Generator) -> pd.DataFrame:
    """Scores of ZERO_COST_SIGNAL's tasks: good (ρ with −error as constructed), noise, params, flops."""
    frames = []
    for task, signal in ZERO_COST_SIGNAL.items():
        minus_error = -(errors[task] - errors[task].mean()) / errors[task].std()
        r = pearson_of(signal)
        good = r * minus_error + np.sqrt(1 - r**2) * rng.standard_normal(len(archs))
        if task == "cifar10":
            good[np.argmax(errors[task])] = -np.inf  # the worst architecture: a degenerate batch
            good[0 if np.argmax(errors[task]) != 0 else 1] = np.nan
        scores = {
            "good": good,
            "noise": rng.standard_normal(len(archs)),
            "params": archs["params"].to_numpy(float),
            "flops": archs["flops"].to_numpy(float),
        }
        for predictor, score in scores.items():
            seconds = 0.0 if predictor in ("params", "flops") else 0.25
            ids = archs["arch_id"].astype(np.int64)
            frames.append(
                pd.DataFrame(
                    {"arch_id": ids, "task": task, "predictor": predictor, "score": score, "seconds": seconds}
                )
            )
    return pd.concat(frames, ignore_index=True)


def report_without_figures(folder, n_boot: int = 50):
    """(Analysis, report.html text) of a results folder as `build_report` makes them, minus the figures
    (their drawing is most of a small report's time) and without writing anything."""
    import html

    from analysis.compute import analyse
    from analysis.html_report import render_report
    from analysis.report import load_optional, load_results

    runs, archs, study = load_results(folder)
    optional, problems = load_optional(folder)
    result = analyse(runs, archs, study, n_boot=n_boot, good_range_resamples=100,
                     costs=optional["costs"], zero_cost_scores=optional["zero_cost"])  # fmt: skip
    result.warnings += problems
    return result, html.unescape(render_report(result, [], study_name="test", results_dir=str(folder)))
