"""`python -m pipeline cost --study X`: what a study will cost, in GPU-hours, before anything runs.

cost of a run = epochs · train images · 3 · MACs(crop) + eval images · MACs(crop); forward and backward
together are taken as 3 forward passes. MACs are pycls flops (multiply-accumulates) of each sampled
architecture at the task's crop size and class count, counted exactly by `anynet.complexity_arrays`.
Image counts come from the prepared store when it exists, otherwise from the catalogue's `images`
(a 10% hold-out, or the official evaluation set's published size).

The default device speed is calibrated on T22's own total: 85 V100-days for its 7,500 trainings, which
this model puts at ~1.4·10¹² MAC/s sustained per V100 for these small CNNs (most of it data loading and
small kernels, not arithmetic). Pass `--macs-per-second` measured on your GPU (images_per_second ×
flops in runs.parquet of a pilot study gives it) for your own figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.cli import ArgumentParser
from pipeline.study import Study, Task, load_study
from pipeline.validate import positive_float

# T22's 85 V100-days for its study (STUDY.md §1), spread over the MACs this model counts for paper.yaml.
V100_MACS_PER_SECOND = 1.4e12
# Published evaluation-set sizes of the datasets with an official split (STUDY.md §3).
OFFICIAL_EVAL_IMAGES = {"imagenet": 50_000, "cifar10": 10_000, "cifar100": 10_000, "natural": 3_000}


@dataclass(frozen=True)
class TaskImages:
    train: int
    eval: int
    num_classes: int
    exact: bool  # counted from the prepared store, not estimated from the catalogue


def task_images(study: Study, task: Task) -> TaskImages:
    """Training and evaluation image counts of a task: exact from its store, else from the catalogue."""
    from pipeline.data.store import is_store
    from pipeline.errors import DatasetError

    if is_store(study.data_root / task.dataset):
        from pipeline.taskdata import open_task_store

        try:
            store = open_task_store(study, task)
        except DatasetError:
            pass
        else:
            return TaskImages(
                len(store.split_indices("train")), len(store.split_indices("val")), store.num_classes, True
            )
    from pipeline.data.catalogue import load_entry

    entry = load_entry(task.entry)
    if entry.format == "synthetic":
        spec = entry.options["synthetic"]
        n_train, n_val = int(spec["n_train"]), int(spec["n_val"])
        classes = entry.num_classes or int(entry.options.get("num_classes") or spec["num_classes"])
        return TaskImages(n_train, n_val, classes, False)
    total = int(entry.images or 0)
    classes = entry.num_classes or 1000
    held_out = OFFICIAL_EVAL_IMAGES.get(task.dataset, round(0.1 * total))
    train, evaluation = total - held_out, held_out
    variant = dict(task.variant or {})
    if "classes" in variant:
        from pipeline.data.variants import read_class_list

        kept = len(read_class_list(variant["classes"]))
        train, evaluation, classes = train * kept // classes, evaluation * kept // classes, kept
    if "max_per_class" in variant:
        train = min(train, int(variant["max_per_class"]) * classes)
    return TaskImages(train, evaluation, classes, False)


def estimate(
    study: Study, archs: pd.DataFrame | None = None, macs_per_second: float = V100_MACS_PER_SECOND
) -> pd.DataFrame:
    """One row per task: runs, image counts, mean MACs per image, total MACs and GPU-hours."""
    from anynet import complexity_arrays
    from pipeline.sample import sample_table

    if archs is None:
        space = study.space
        archs = sample_table(
            space.n,
            space.seed,
            space.flops_mf,
            space.strides,
            im_size=space.im_size,
            num_classes=space.num_classes,
        )
    stages = {
        col: np.stack(archs[col].to_numpy())
        for col in ("depths", "widths", "bottleneck_ratios", "group_widths", "strides")
    }
    rows = []
    for task in study.tasks.values():
        images = task_images(study, task)
        crop = int(task.recipe.resolution or _stored_size(task.entry))
        macs = complexity_arrays(
            stages["depths"],
            stages["widths"],
            stages["bottleneck_ratios"],
            stages["group_widths"],
            strides=stages["strides"],
            im_size=crop,
            num_classes=images.num_classes,
        )["flops"].astype(np.float64)
        per_run = task.recipe.epochs * images.train * 3 * macs + images.eval * macs
        total = float(per_run.sum()) * len(study.seeds)
        rows.append(
            {
                "task": task.name,
                "runs": len(archs) * len(study.seeds),
                "epochs": task.recipe.epochs,
                "train_images": images.train,
                "eval_images": images.eval,
                "counted": images.exact,
                "crop": crop,
                "mean_mmacs": float(macs.mean()) / 1e6,
                "total_macs": total,
                "gpu_hours": total / macs_per_second / 3600,
            }
        )
    return pd.DataFrame(rows)


def _stored_size(dataset: str) -> int:
    from pipeline.data.catalogue import load_entry

    return int(load_entry(dataset).resolution)


def format_estimate(table: pd.DataFrame, macs_per_second: float) -> str:
    lines = [
        f"{'task':<18}{'runs':>6}{'epochs':>7}{'train imgs':>12}{'crop':>6}{'MMAC/img':>10}{'GPU-h':>10}"
    ]
    for r in table.itertuples():
        mark = "" if r.counted else "~"
        lines.append(
            f"{r.task:<18}{r.runs:>6}{r.epochs:>7}{mark + format(r.train_images, ','):>12}"
            f"{r.crop:>6}{r.mean_mmacs:>10.1f}{r.gpu_hours:>10.1f}"
        )
    hours = table["gpu_hours"].sum()
    lines.append(
        f"total {int(table['runs'].sum())} runs: {hours:,.0f} GPU-hours = {hours / 24:,.1f} GPU-days "
        f"at {macs_per_second:.2g} MAC/s per GPU (~ = image count estimated from the catalogue)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m pipeline cost", description=__doc__.splitlines()[0])
    parser.add_argument("--study", required=True, help="study name (pipeline/studies/<name>.yaml) or path")
    parser.add_argument("--data-root", help="where prepared datasets live (overrides the study)")
    parser.add_argument(
        "--macs-per-second",
        type=positive_float,
        default=V100_MACS_PER_SECOND,
        help="sustained MAC/s of one GPU on these models (default: V100, from T22's total)",
    )
    args = parser.parse_args(argv)
    study = load_study(args.study, data_root=args.data_root)
    print(format_estimate(estimate(study, macs_per_second=args.macs_per_second), args.macs_per_second))
    return 0
