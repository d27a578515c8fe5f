"""`python -m pipeline cost --study X`: what a study will cost, in GPU-hours, before anything runs.

cost of a run = epochs · train images · 3 · MACs(crop) + eval images · MACs(crop); forward and backward
together are taken as 3 forward passes. MACs are pycls flops (multiply-accumulates) of each sampled
architecture at the task's crop size and class count, counted exactly by `anynet.complexity_arrays`.
Image counts come from the prepared store when it exists, otherwise from the catalogue's `images`
(a 10% hold-out, or the official evaluation set's published size).

Ladder rungs are costed exactly like any task (issue 14): a `fraction` variant counts the training rows it
keeps (its stratified per-class counts, read from the variant view of the store), a `resolution` variant
uses its crop (recipe.resolution, else the variant's size) and the parent's rows (a derived store has the
parent's rows, so its counts are exact before it is made), an epochs rung its epochs. Runs are the plan's:
every architecture with the study's seeds, plus the replicate seeds of the drawn architectures on the tasks
`replicates` names. `collect` writes the same table to `results_dir/costs.parquet` (`write_costs`), which
the report's ladder reads as its cost axis.

The default device speed is calibrated on T22's own total: 85 V100-days for its 7,500 trainings, which
this model puts at ~1.4·10¹² MAC/s sustained per V100 for these small CNNs (most of it data loading and
small kernels, not arithmetic). Pass `--macs-per-second` measured on your GPU (images_per_second ×
flops in runs.parquet of a pilot study gives it) for your own figure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import fsio, layout
from pipeline.cli import ArgumentParser, add_study_arguments
from pipeline.study import Study, Task, load_study
from pipeline.validate import positive_float

# T22's 85 V100-days for its study (STUDY.md §1), spread over the MACs this model counts for paper.yaml.
V100_MACS_PER_SECOND = 1.4e12
# Published evaluation-set sizes of the datasets with an official split (STUDY.md §3).
OFFICIAL_EVAL_IMAGES = {"imagenet": 50_000, "cifar10": 10_000, "cifar100": 10_000, "natural": 3_000}


# costs.parquet (the analysis side's contract): one row per task, these columns and arrow types.
COST_TYPES = {
    "task": "string", "runs": "int64", "epochs": "int64", "train_images": "int64", "eval_images": "int64",
    "crop": "int64", "mean_mmacs": "float64", "total_macs": "float64", "gpu_hours": "float64",
}  # fmt: skip
COSTS_FILE = "costs.parquet"


@dataclass(frozen=True)
class TaskImages:
    train: int
    eval: int
    num_classes: int
    exact: bool  # counted from the prepared store, not estimated from the catalogue
    stored_size: int | None = None  # the store's image size (None: not prepared)


def task_images(study: Study, task: Task) -> TaskImages:
    """Training and evaluation image counts of a task: exact from its store, else from the catalogue.

    A resolution variant is counted on the parent store with the other variant keys applied: the derived
    store has the parent's rows, labels and splits, so the counts are exact before it is made.
    """
    from pipeline.data.store import is_store
    from pipeline.errors import DatasetError

    if is_store(study.data_root / task.dataset):
        from pipeline.taskdata import open_task_store

        variant = dict(task.variant or {})
        resolution = variant.pop("resolution", None)
        rows_of = dataclasses.replace(task, variant=variant or None)
        try:
            store = open_task_store(study, rows_of)
        except DatasetError:
            pass
        else:
            size = int(resolution or store.meta["resolution"][0])
            return TaskImages(
                len(store.split_indices("train")),
                len(store.split_indices("val")),
                store.num_classes,
                True,
                size,
            )
    return _catalogue_images(task)


def _catalogue_images(task: Task) -> TaskImages:
    """Counts estimated from the catalogue entry (before the dataset is prepared)."""
    from pipeline.data.catalogue import load_entry

    entry = load_entry(task.entry)
    variant = dict(task.variant or {})
    if entry.format == "synthetic":
        spec = entry.options["synthetic"]
        train, evaluation = int(spec["n_train"]), int(spec["n_val"])
        classes = entry.num_classes or int(entry.options.get("num_classes") or spec["num_classes"])
    else:
        total = int(entry.images or 0)
        classes = entry.num_classes or 1000
        held_out = OFFICIAL_EVAL_IMAGES.get(task.dataset, round(0.1 * total))
        train, evaluation = total - held_out, held_out
    if "classes" in variant:
        from pipeline.data.variants import read_class_list

        kept = len(read_class_list(variant["classes"]))
        train, evaluation, classes = train * kept // classes, evaluation * kept // classes, kept
    if "max_per_class" in variant:
        train = min(train, int(variant["max_per_class"]) * classes)
    if "fraction" in variant:  # every class keeps max(1, round(f·n_c)) rows: ≈ f·train, at least one each
        train = min(train, max(classes, round(float(variant["fraction"]) * train)))
    return TaskImages(train, evaluation, classes, False)


def task_crop(task: Task, images: TaskImages) -> int:
    """The size a task trains at: recipe.resolution, else its resolution variant, else the stored size."""
    size = task.recipe.resolution or (task.variant or {}).get("resolution") or images.stored_size
    return int(size or _stored_size(task.entry))


def estimate(
    study: Study, archs: pd.DataFrame | None = None, macs_per_second: float = V100_MACS_PER_SECOND
) -> pd.DataFrame:
    """One row per task: runs, image counts, mean MACs per image, total MACs and GPU-hours.

    `archs` is the study's architectures table (architectures.parquet); None samples the space afresh,
    which gives the same architectures `sample` would.
    """
    from pipeline.plan import task_seeds
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
    arch_ids = [int(a) for a in archs["arch_id"]] if "arch_id" in archs else list(range(len(archs)))
    rows = []
    for task in study.tasks.values():
        images = task_images(study, task)
        crop = task_crop(task, images)
        macs = arch_macs(archs, crop, images.num_classes)
        seeds = task_seeds(study, task, arch_ids)
        runs_per_arch = np.array([len(seeds[a]) for a in arch_ids], dtype=np.float64)
        per_run = task.recipe.epochs * images.train * 3 * macs + images.eval * macs
        total = float((per_run * runs_per_arch).sum())
        rows.append(
            {
                "task": task.name,
                "runs": int(runs_per_arch.sum()),
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


def arch_macs(archs: pd.DataFrame, crop: int, num_classes: int) -> np.ndarray:
    """MACs (pycls flops) of each architecture at `crop` px with `num_classes` outputs, float64, in row order.

    Counted with `anynet.complexity_arrays`, once per (stem_width, se_ratio) group of the table (one group
    for a sampled table: stem 32, no SE); a missing column or cell means the `anynet.Arch` default.
    """
    from anynet import Arch, complexity_arrays

    defaults = {"stem_width": Arch.__dataclass_fields__["stem_width"].default,
                "se_ratio": Arch.__dataclass_fields__["se_ratio"].default}  # fmt: skip
    extras = pd.DataFrame(
        {k: archs[k].fillna(v) if k in archs else v for k, v in defaults.items()}, index=archs.index
    )
    out = np.empty(len(archs), dtype=np.float64)
    for (stem_width, se_ratio), group in extras.groupby(["stem_width", "se_ratio"], sort=False):
        rows = archs.index.get_indexer(group.index)
        part = archs.iloc[rows]
        stages = {
            col: np.stack(part[col].to_numpy())
            for col in ("depths", "widths", "bottleneck_ratios", "group_widths", "strides")
        }
        out[rows] = complexity_arrays(
            stages["depths"],
            stages["widths"],
            stages["bottleneck_ratios"],
            stages["group_widths"],
            strides=stages["strides"],
            stem_width=int(stem_width),
            se_ratio=float(se_ratio),
            im_size=crop,
            num_classes=num_classes,
        )["flops"]
    return out


def cost_schema() -> Any:
    """COST_TYPES as a pyarrow schema."""
    return fsio.schema_of(COST_TYPES)


def write_costs(study: Study, archs: pd.DataFrame, macs_per_second: float = V100_MACS_PER_SECOND) -> Path:
    """`results_dir/costs.parquet`: `estimate` of the study's own architectures, in COST_TYPES (atomic)."""
    table = estimate(study, archs, macs_per_second)
    frame = table.reindex(columns=list(COST_TYPES)).astype(
        {k: v for k, v in COST_TYPES.items() if k != "task"}
    )
    return fsio.write_table(frame, Path(study.results_dir) / COSTS_FILE, schema=cost_schema())


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
    add_study_arguments(parser)
    parser.add_argument(
        "--macs-per-second",
        type=positive_float,
        default=V100_MACS_PER_SECOND,
        help="sustained MAC/s of one GPU on these models (default: V100, from T22's total)",
    )
    args = parser.parse_args(argv)
    study = load_study(args.study, data_root=args.data_root, results_dir=args.results_dir)
    archs = None  # the study's own sample when it exists (checked against its space), else a fresh one
    if (Path(study.results_dir) / layout.ARCH_FILE).is_file():
        archs = layout.read_architectures(study)
    print(format_estimate(estimate(study, archs, macs_per_second=args.macs_per_second), args.macs_per_second))
    return 0
