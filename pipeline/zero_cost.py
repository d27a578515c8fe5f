"""`python -m pipeline zero-cost --study X`: zero-cost predictor scores of every architecture on every task.

For every architecture of the study's architectures.parquet and every task (default: all), the five
predictors of `anynet.zero_cost` (synflow, snip, grad_norm, jacob_cov, naswot) on one minibatch of that
task's data, plus `params` and `flops` (`anynet.complexity` at the task's crop size and class count; their
seconds are 0). The convention of `anynet.zero_cost` holds for all seven: **higher score = predicted
better** (lower error). For params and flops that is a convention, not a finding: bigger nets are
predicted better, the baseline every zero-cost proxy has to beat (Abdelfattah et al. 2021 report both).

The minibatch. `--batch-size` (default 64) rows of the task's *training* split, drawn without replacement
by `numpy.random.default_rng(seed)` and sorted (uniform, not stratified; all rows when the split is
smaller), preprocessed like evaluation images (no random augmentation: a stored image of another size is
resized to the crop, a large one short-side resized and centre-cropped; the pycls test transform) at the
task's crop size (recipe.resolution, else the stored size) and normalised with the store's mean/std. So
the batch is a property of the task's data, the same for every architecture and every run of the verb, and
independent of any training seed. The models are built by `anynet.build_model(arch, num_classes)` afresh
for each predictor (`score_all`), initialised from torch's generator seeded with the same `seed`.

What defines a score (its key, a hash): the architecture, the task's data identity (dataset, variant,
store fingerprint, class count), the crop, the batch size, the seed and the predictor. Not the recipe's
epochs or learning rate: an epochs rung scores what its parent scores, and is not scored twice. Nor the
device or torch version: CUDA's TF32 convolutions move float32 scores by ~1e-3 relative (anynet.zero_cost),
which leaves rankings alone.

Files. `results_dir/zero_cost/<task>.parquet` holds a task's scores with their keys (written atomically
per task, and every minute while a long task runs), so a second call scores only what is missing or what
a changed store, crop, batch size or seed made stale (stale rows are dropped when the file is rewritten).
`results_dir/zero_cost.parquet` is then all tasks' current scores: arch_id (int64), task, predictor
(string), score, seconds (float64), in task, arch_id, predictor order. A score that cannot be computed is
NaN with a note (synflow overflowing float64); a degenerate batch scores -inf, the worst (anynet.zero_cost).

`pipeline run` calls `zero_cost` after training unless the study says `zero_cost: false`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import fsio, layout, validate
from pipeline.cli import ArgumentParser, add_study_arguments
from pipeline.errors import PipelineError, StudyError
from pipeline.study import Study, Task, load_study
from pipeline.validate import non_negative_int, positive_int

KEY_VERSION = 1
DEFAULT_BATCH_SIZE = 64
DEFAULT_SEED = 0
COUNTED = ("params", "flops")  # from anynet.complexity, not from a model
ZERO_COST_DIR = "zero_cost"
ZERO_COST_FILE = "zero_cost.parquet"
SAVE_EVERY_S = 60.0  # a long task's file is rewritten this often, so an interruption loses at most this
# zero_cost.parquet (the analysis side's contract) and, with the columns after it, the per-task files.
OUTPUT_TYPES = {"arch_id": "int64", "task": "string", "predictor": "string", "score": "float64",
                "seconds": "float64"}  # fmt: skip
TASK_FILE_TYPES = {**OUTPUT_TYPES, "key": "string", "fingerprint": "string", "crop": "int64",
                   "batch_size": "int64", "seed": "int64", "device": "string"}  # fmt: skip

Out = Callable[[str], None]


@dataclass(frozen=True)
class Scored:
    score: float
    seconds: float
    device: str


@dataclass
class ZeroCostResult:
    path: Path  # zero_cost.parquet
    table: pd.DataFrame
    scored: int = 0  # (architecture, task) pairs computed in this call
    reused: int = 0  # pairs whose every score was already known
    failed: dict[str, int] = dataclasses.field(default_factory=dict)  # "task/predictor" -> NaN scores

    def summary(self) -> str:
        return (
            f"{len(self.table)} zero-cost scores ({self.scored} architecture×task pairs scored, "
            f"{self.reused} already known) -> {self.path}"
        )


@dataclass(frozen=True)
class TaskSetting:
    """What a task's scores depend on, besides the architecture and the predictor."""

    task: Task
    dataset: str
    variant_json: str
    fingerprint: str
    num_classes: int
    crop: int


def predictor_names() -> tuple[str, ...]:
    """The five model predictors of anynet.zero_cost, then params and flops (imports torch)."""
    from anynet.zero_cost import PREDICTORS

    return (*PREDICTORS, *COUNTED)


# ------------------------------------------------------------------------------------------ identity
def task_setting(study: Study, task: Task) -> TaskSetting:
    """The task's data identity and crop (opens its store; DatasetError when it is not prepared)."""
    from pipeline.taskdata import open_task_store

    store = open_task_store(study, task)
    crop = int(task.recipe.resolution or store.meta["resolution"][0])  # as pipeline.taskdata.TaskData
    return TaskSetting(
        task, task.dataset, task.variant_json, str(store.fingerprint), int(store.num_classes), crop
    )


def score_key(arch: Any, setting: TaskSetting, batch_size: int, seed: int, predictor: str) -> str:
    """A short stable hash of what defines one score (module docstring)."""
    payload = {
        "v": KEY_VERSION,
        "arch": arch.to_dict(),
        "dataset": setting.dataset,
        "variant": setting.variant_json,
        "fingerprint": setting.fingerprint,
        "num_classes": setting.num_classes,
        "crop": setting.crop,
        "batch_size": int(batch_size),
        "seed": int(seed),
        "predictor": predictor,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------- batch
def batch_rows(store: Any, batch_size: int, seed: int) -> np.ndarray:
    """The store rows of the minibatch: a seeded draw without replacement from its training split, sorted."""
    train = store.split_indices("train")
    if len(train) < 2:
        raise PipelineError(
            f"store {store.name!r} has {len(train)} training image(s); zero-cost predictors need at least 2"
        )
    size = min(int(batch_size), len(train))
    return np.sort(np.random.default_rng(seed).choice(train, size=size, replace=False))


def task_batch(setting: TaskSetting, store: Any, batch_size: int, seed: int, device: str) -> tuple:
    """(images float N×3×crop×crop normalised, labels int64 N) on `device`: the evaluation transform of
    the drawn training rows (read through a one-split view of the store and the pipeline's loader)."""
    from pipeline.data.loader import DeviceLoader
    from pipeline.data.variants import EXCLUDED

    rows = batch_rows(store, batch_size, seed)
    splits = np.full(len(store.splits), EXCLUDED, dtype=object)
    splits[rows] = "val"  # the loader's evaluation path reads split "val" in store order, unaugmented
    view = dataclasses.replace(store, splits=splits)
    loader = DeviceLoader(
        view, "val", batch_size=len(rows), train=False, crop_size=setting.crop, seed=0, device=device
    )
    ((images, labels),) = list(loader)
    return images, labels


# ------------------------------------------------------------------------------------------- scoring
def _score_arch(
    arch: Any, setting: TaskSetting, names: Sequence[str], images: Any, labels: Any, device: str, seed: int
) -> dict[str, tuple[float, float]]:
    """{predictor: (score, seconds)} of one architecture; NaN for a predictor that overflows."""
    from anynet import build_model, complexity
    from anynet.zero_cost import score_all

    results: dict[str, tuple[float, float]] = {}
    counts = complexity(arch, im_size=setting.crop, num_classes=setting.num_classes)
    for name in names:
        if name in COUNTED:
            results[name] = (float(counts[name]), 0.0)
            continue
        try:
            results.update(
                score_all(
                    lambda: build_model(arch, setting.num_classes),
                    images,
                    labels,
                    [name],
                    device=device,
                    seed=seed,
                )
            )
        except OverflowError:
            results[name] = (math.nan, 0.0)
    return results


def _load_cache(
    results_dir: Path, tasks: Sequence[str], out: Out
) -> tuple[dict[str, Scored], dict[str, set[str]]]:
    """key -> score of every row in the per-task files of `tasks`, and each file's keys (a damaged file
    is named and ignored)."""
    cache: dict[str, Scored] = {}
    file_keys: dict[str, set[str]] = {}
    for task in tasks:
        path = task_file(results_dir, task)
        if not path.is_file():
            continue
        try:
            frame = fsio.read_table(path)
        except fsio.UnreadableFileError as error:
            out(f"zero-cost: {error}; its scores are computed again")
            continue
        if not set(TASK_FILE_TYPES) <= set(frame.columns):
            lacking = sorted(set(TASK_FILE_TYPES) - set(frame.columns))
            out(f"zero-cost: {path} lacks columns {lacking}; its scores are computed again")
            continue
        for key, score, seconds, device in zip(
            frame["key"], frame["score"], frame["seconds"], frame["device"], strict=True
        ):
            cache[str(key)] = Scored(float(score), float(seconds), str(device))
        file_keys[task] = {str(k) for k in frame["key"]}
    return cache, file_keys


def task_file(results_dir: str | Path, task: str) -> Path:
    return Path(results_dir) / ZERO_COST_DIR / f"{task}.parquet"


def _task_rows(
    setting: TaskSetting,
    archs: Sequence[tuple[int, Any]],
    names: Sequence[str],
    cache: dict[str, Scored],
    batch_size: int,
    seed: int,
) -> pd.DataFrame:
    """The task's known current scores (rows in TASK_FILE_TYPES)."""
    rows = []
    for arch_id, arch in archs:
        for name in names:
            key = score_key(arch, setting, batch_size, seed, name)
            if key in cache:
                hit = cache[key]
                rows.append(
                    (arch_id, setting.task.name, name, hit.score, hit.seconds, key, setting.fingerprint,
                     setting.crop, batch_size, seed, hit.device)
                )  # fmt: skip
    return pd.DataFrame(rows, columns=list(TASK_FILE_TYPES))


def _typed(frame: pd.DataFrame, types: dict[str, str]) -> Any:
    import pyarrow as pa

    return pa.Table.from_pandas(
        frame.reindex(columns=list(types)), schema=fsio.schema_of(types), preserve_index=False
    )


def zero_cost(
    study: Study,
    tasks: Sequence[str] | None = None,
    *,
    device: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = DEFAULT_SEED,
    out: Out = print,
    progress: Callable[[Any], None] | None = None,
) -> ZeroCostResult:
    """Score every architecture on `tasks` (default: all), reusing known scores; write the per-task files
    and zero_cost.parquet (module docstring)."""
    from pipeline.progress import Progress
    from pipeline.taskdata import open_task_store, require_data

    if batch_size < 2:
        raise PipelineError(f"batch size {batch_size}: zero-cost predictors need at least 2 images")
    selected = _select_tasks(study, tasks)
    device = _device(device)
    require_data(dataclasses.replace(study, tasks={name: study.tasks[name] for name in selected}))
    results_dir = Path(study.results_dir)
    archs = _architectures(study)
    names = predictor_names()
    cache, file_keys = _load_cache(results_dir, list(study.tasks), out)
    result = ZeroCostResult(results_dir / ZERO_COST_FILE, pd.DataFrame())
    total, done, started = len(archs) * len(selected), 0, time.monotonic()
    for task_name in selected:
        task = study.tasks[task_name]
        setting = task_setting(study, task)
        batch: tuple | None = None  # drawn only if something is missing
        saved_at, failed = time.monotonic(), dict.fromkeys(names, 0)
        for _, arch in archs:
            keys = {name: score_key(arch, setting, batch_size, seed, name) for name in names}
            missing = [name for name, key in keys.items() if key not in cache]
            if missing:
                if batch is None:
                    batch = task_batch(setting, open_task_store(study, task), batch_size, seed, device)
                for name, (score, seconds) in _score_arch(
                    arch, setting, missing, *batch, device, seed
                ).items():
                    cache[keys[name]] = Scored(score, seconds, device)
                    failed[name] += int(math.isnan(score))
                result.scored += 1
            else:
                result.reused += 1
            done += 1
            if progress is not None:
                elapsed = time.monotonic() - started
                eta = elapsed / result.scored * (total - done) if result.scored else None
                progress(Progress(done, total, elapsed, eta, unit="zero-cost", note=f"{result.reused} known"))
            if missing and time.monotonic() - saved_at > SAVE_EVERY_S:
                file_keys[task_name] = _write_task(
                    results_dir, setting, archs, names, cache, batch_size, seed
                )
                saved_at = time.monotonic()
        if _task_keys(setting, archs, names, cache, batch_size, seed) != file_keys.get(task_name):
            file_keys[task_name] = _write_task(results_dir, setting, archs, names, cache, batch_size, seed)
        for name, count in failed.items():
            if count:
                result.failed[f"{task_name}/{name}"] = count
                out(f"zero-cost: {name} overflowed float64 for {count} architecture(s) of {task_name}: NaN")
    table = _current_scores(study, archs, names, cache, batch_size, seed, out)
    fsio.write_table(_typed(table, OUTPUT_TYPES), result.path)
    result.table = table
    return result


def _write_task(
    results_dir: Path,
    setting: TaskSetting,
    archs: Sequence[tuple[int, Any]],
    names: Sequence[str],
    cache: dict[str, Scored],
    batch_size: int,
    seed: int,
) -> set[str]:
    """Write the task's current scores to its file; returns their keys."""
    rows = _task_rows(setting, archs, names, cache, batch_size, seed)
    fsio.write_table(_typed(rows, TASK_FILE_TYPES), task_file(results_dir, setting.task.name))
    return set(rows["key"])


def _task_keys(
    setting: TaskSetting,
    archs: Sequence[tuple[int, Any]],
    names: Sequence[str],
    cache: dict[str, Scored],
    batch_size: int,
    seed: int,
) -> set[str]:
    """Keys of the task's current scores that are known (what its file should hold)."""
    return set(_task_rows(setting, archs, names, cache, batch_size, seed)["key"])


def _current_scores(
    study: Study,
    archs: Sequence[tuple[int, Any]],
    names: Sequence[str],
    cache: dict[str, Scored],
    batch_size: int,
    seed: int,
    out: Out,
) -> pd.DataFrame:
    """Every study task's current scores (tasks whose store cannot be opened are left out, and named)."""
    from pipeline.errors import DatasetError

    frames, unavailable = [], []
    for task in study.tasks.values():
        try:
            setting = task_setting(study, task)
        except DatasetError:
            unavailable.append(task.name)
            continue
        frames.append(_task_rows(setting, archs, names, cache, batch_size, seed))
    if unavailable:
        out(f"zero-cost: tasks without prepared data left out of {ZERO_COST_FILE}: {', '.join(unavailable)}")
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(TASK_FILE_TYPES))
    return table.reindex(columns=list(OUTPUT_TYPES)).reset_index(drop=True)


# ------------------------------------------------------------------------------------------- helpers
def _select_tasks(study: Study, tasks: Sequence[str] | None) -> list[str]:
    if tasks is None:
        return list(study.tasks)
    unknown = [t for t in tasks if t not in study.tasks]
    if unknown or not tasks:
        raise StudyError(
            f"--tasks: {', '.join(map(repr, unknown)) or 'no task'} is not a task of study {study.name!r} "
            f"(tasks: {', '.join(study.tasks)})"
        )
    return list(dict.fromkeys(tasks))


def _architectures(study: Study) -> list[tuple[int, Any]]:
    from anynet import Arch

    frame = layout.read_architectures(study)
    strides = tuple(study.space.strides)
    return [
        (int(row["arch_id"]), Arch.from_row(row, default_strides=strides)) for row in frame.to_dict("records")
    ]


def _device(device: str | None) -> str:
    """`device` checked (cpu, cuda, cuda:N), or cuda when available, else cpu."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device.split(":")[0] == "cuda" and (device == "cuda" or device[5:].isdigit()):
        if not torch.cuda.is_available():
            raise PipelineError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
        return device
    raise PipelineError(f"--device {device!r} is not cpu, cuda or cuda:N")


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.progress import Printer

    parser = ArgumentParser(prog="python -m pipeline zero-cost", description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument(
        "--tasks", type=validate.name_list, help="comma-separated tasks to score (default: all)"
    )
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=DEFAULT_BATCH_SIZE,
        help=f"training images in the minibatch, at least 2 (default {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=DEFAULT_SEED,
        help=f"seed of the minibatch draw and the models' initialisation (default {DEFAULT_SEED})",
    )
    args = parser.parse_args(argv)
    if args.batch_size < 2:
        parser.error(f"argument --batch-size: {args.batch_size}: zero-cost predictors need at least 2 images")
    study = load_study(args.study, data_root=args.data_root, results_dir=args.results_dir)
    result = zero_cost(
        study, args.tasks, device=args.device, batch_size=args.batch_size, seed=args.seed, progress=Printer()
    )
    print(result.summary())
    return 0
