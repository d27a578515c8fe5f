"""Tiny studies for the fan-out tests: random 16-px stores, three tiny architectures, a study YAML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from pipeline.data.store import write_store
from pipeline.layout import SPACE_KEY, space_record
from pipeline.study import study_from_dict

# Tiny AnyNetX architectures (stem 8 px wide, strides 1,2,2,2): a few thousand parameters each.
TINY_ARCHS = [
    {
        "depths": [1, 1, 1, 1],
        "widths": [8, 8, 16, 16],
        "bottleneck_ratios": [1, 1, 1, 1],
        "group_widths": [8, 8, 8, 8],
    },
    {
        "depths": [1, 1, 2, 1],
        "widths": [8, 16, 16, 24],
        "bottleneck_ratios": [1, 1, 1, 1],
        "group_widths": [4, 8, 8, 8],
    },
    {
        "depths": [1, 2, 1, 1],
        "widths": [8, 16, 24, 32],
        "bottleneck_ratios": [1, 2, 1, 1],
        "group_widths": [8, 8, 8, 8],
    },
]
# (task, catalogue dataset, classes): the stores are random images under real catalogue names.
TINY_TASKS = [("cifar", "cifar10", 10), ("power", "powerline", 2)]


def write_random_store(
    path: Path, name: str, num_classes: int, *, seed: int, n_train: int = 48, n_val: int = 24, size: int = 16
) -> Any:
    rng = np.random.default_rng(seed)
    n = n_train + n_val
    images = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    labels = rng.integers(0, num_classes, size=n)
    splits = np.array(["train"] * n_train + ["val"] * n_val)
    return write_store(
        path,
        images,
        labels,
        splits,
        [f"c{i}" for i in range(num_classes)],
        name=name,
        split={"policy": "test", "seed": seed},
    )


def write_architectures(
    results_dir: Path, archs: list[dict[str, Any]] | None = None, *, space: dict[str, Any] | None = None
) -> Path:
    """architectures.parquet of hand-picked tiny networks, stamped with the space the study declares
    (`space`: a `layout.space_record`), as `sample` would stamp a real sample."""
    rows = []
    for arch_id, arch in enumerate(archs or TINY_ARCHS):
        rows.append({"arch_id": arch_id, **arch, "strides": [1, 2, 2, 2], "stem_width": 8})
    path = results_dir / "architectures.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False)
    if space is not None:
        table = table.replace_schema_metadata({SPACE_KEY: json.dumps(space, sort_keys=True).encode()})
    pq.write_table(table, path)
    return path


def tiny_space(root: Path, **kwargs: Any) -> dict[str, Any]:
    """The space record of the tiny study (what its architectures.parquet must carry)."""
    return space_record(study_from_dict(study_dict(root, **kwargs)))


def study_dict(
    root: Path, *, epochs: int = 1, runs_per_job: int = 2, kind: str = "debug", **recipe: Any
) -> dict[str, Any]:
    return {
        "name": "tiny",
        "data_root": str(root / "data"),
        "results_dir": str(root / "results" / "tiny"),
        "space": {"n": len(TINY_ARCHS), "seed": 0, "flops_mf": [0.1, 50]},
        "reference": TINY_TASKS[0][0],
        "recipe": {"batch_size": 16, "eval_batch_size": 32, "lr": 0.05, **recipe},
        # epochs in each task: a task's own recipe overrides the catalogue's defaults (30 epochs for cifar10)
        "tasks": {
            task: {"dataset": ds, "recipe": {"epochs": epochs, "metric": "top1"}}
            for task, ds, _ in TINY_TASKS
        },
        "executor": {"kind": kind, "runs_per_job": runs_per_job, "array_parallelism": 4, "timeout_min": 10},
    }


def make_tiny_study(root: Path, *, data: bool = True, archs: bool = True, **kwargs: Any) -> Path:
    """Write stores, architectures.parquet and `root/tiny.yaml`; returns the study file."""
    if data:
        for i, (_, dataset, classes) in enumerate(TINY_TASKS):
            write_random_store(root / "data" / dataset, dataset, classes, seed=i)
    if archs:
        write_architectures(root / "results" / "tiny", space=tiny_space(root, **kwargs))
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(study_dict(root, **kwargs), sort_keys=False))
    return path
