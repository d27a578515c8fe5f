"""Runs: stable run keys, the plan (architectures x tasks x seeds), chunks and arrays, result files.

A run is one (architecture, task, seed). Its key is a short hash of everything that defines its result:
the architecture, the task's dataset, variant, store fingerprint and class count, the recipe and the seed.
Runs of a task are ordered by `arch_id` and cut into chunks of `runs_per_job`; a chunk is one array task.

Files under `results_dir` (all written to a dot-prefixed temp name and renamed, so a reader that lists
`*.parquet` never sees a half-written file):

    runs/<task>/<run_key>.parquet          one result row (see `pipeline.train.RESULT_COLUMNS`)
    runs/<task>/<run_key>.history.parquet  per-epoch history of that run
    runs/<task>/<run_key>.failed.json      the last failure of a run that raised (removed when it finishes)
    runs/<task>/<run_key>.started.json     who is training the run now (removed when it finishes)
    checkpoints/<task>/<run_key>.pt        the last epoch's checkpoint of a run in progress
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import DatasetError, StudyError
from pipeline.study import Study, Task

KEY_VERSION = 1
KEY_LENGTH = 12
DEFAULT_MAX_ARRAY_SIZE = 1001  # SLURM's default MaxArraySize
ARCH_FIELDS = ("depths", "widths", "bottleneck_ratios", "group_widths", "strides", "se_ratio", "stem_width")
# Recipe fields that change how fast a run goes, not what it computes: not part of the key.
_NOT_IN_KEY = ("compile", "eval_batch_size")


# ---------------------------------------------------------------------------------------------- keys
@dataclass(frozen=True)
class TaskIdentity:
    """What a task's data contributes to run keys: the store after its variant is applied."""

    dataset: str
    variant_json: str
    fingerprint: str
    num_classes: int


def arch_dict(row: Any, study: Study | None = None) -> dict[str, Any]:
    """An architecture as plain data from a row of architectures.parquet (strides default to the space's)."""
    arch = {k: [int(v) for v in row[k]] for k in ("depths", "widths", "bottleneck_ratios", "group_widths")}
    strides = row.get("strides")
    if strides is None:
        strides = study.space.strides if study is not None else (1, 2, 2, 2)
    arch["strides"] = [int(v) for v in strides]
    se_ratio, stem_width = row.get("se_ratio"), row.get("stem_width")
    arch["se_ratio"] = 0.0 if se_ratio is None or se_ratio != se_ratio else float(se_ratio)  # NaN: absent
    arch["stem_width"] = 32 if stem_width is None or stem_width != stem_width else int(stem_width)
    return arch


def run_key(arch: dict[str, Any], task: Task, identity: TaskIdentity, seed: int) -> str:
    """A short stable hash of what defines a run's result; same inputs give the same key in any process."""
    recipe = {k: v for k, v in dataclasses.asdict(task.recipe).items() if k not in _NOT_IN_KEY}
    payload = {
        "v": KEY_VERSION,
        "arch": {k: arch[k] for k in ARCH_FIELDS},
        "dataset": identity.dataset,
        "variant": identity.variant_json,
        "fingerprint": identity.fingerprint,
        "num_classes": identity.num_classes,
        "recipe": recipe,
        "seed": int(seed),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


# ---------------------------------------------------------------------------------------------- data
_STORES: dict[tuple[str, str, str], Any] = {}


def open_task_store(study: Study, task: Task) -> Any:
    """The task's store with its variant applied (opened once per process); DatasetError when absent."""
    cache_key = (str(Path(study.data_root).resolve()), task.dataset, task.variant_json)
    if cache_key not in _STORES:
        try:
            from pipeline.data.variants import open_dataset
        except ImportError:  # before the variants module exists: whole stores only
            from pipeline.data.store import open_store

            if task.variant:
                raise DatasetError(f"variants need pipeline.data.variants (task {task.name!r})") from None
            _STORES[cache_key] = open_store(Path(study.data_root) / task.dataset)
        else:
            _STORES[cache_key] = open_dataset(study.data_root, task.dataset, dict(task.variant or {}) or None)
    return _STORES[cache_key]


def task_identity(study: Study, task: Task) -> TaskIdentity:
    store = open_task_store(study, task)
    return TaskIdentity(task.dataset, task.variant_json, str(store.fingerprint), int(store.num_classes))


def read_architectures(study: Study) -> pd.DataFrame:
    """architectures.parquet of the study, ordered by arch_id; StudyError naming the fix when absent."""
    path = Path(study.results_dir) / "architectures.parquet"
    if not path.is_file():
        raise StudyError(f"no architectures at {path}; run: python -m pipeline sample --study {study.name}")
    return pd.read_parquet(path).sort_values("arch_id").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- plan
PLAN_COLUMNS = ("run_key", "task", "arch_id", "seed", "chunk")


def plan_task(study: Study, task: Task, archs: pd.DataFrame, identity: TaskIdentity) -> pd.DataFrame:
    """The runs of one task, ordered by (arch_id, seed) and cut into chunks of `runs_per_job`."""
    rows = []
    dicts = [arch_dict(r, study) for r in archs.to_dict("records")]
    for arch_id, arch in zip(archs["arch_id"].tolist(), dicts, strict=True):
        for seed in study.seeds:
            rows.append((run_key(arch, task, identity, seed), task.name, int(arch_id), int(seed)))
    frame = pd.DataFrame(rows, columns=list(PLAN_COLUMNS[:-1]))
    frame["chunk"] = frame.index // study.executor.runs_per_job
    return frame


def plan_study(study: Study, archs: pd.DataFrame, identities: dict[str, TaskIdentity]) -> pd.DataFrame:
    """Every run of the study: architectures x tasks x seeds, with chunk numbers per task."""
    frames = [plan_task(study, t, archs, identities[t.name]) for t in study.tasks.values()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(PLAN_COLUMNS))


def split_arrays(chunks: Sequence[int], max_array_size: int) -> list[list[int]]:
    """Cut a task's chunk list into job arrays of at most `max_array_size` elements (indices 0..size-1)."""
    size = max(1, int(max_array_size))
    chunks = list(chunks)
    return [chunks[i : i + size] for i in range(0, len(chunks), size)]


def parse_max_array_size(config_text: str) -> int | None:
    """MaxArraySize from `scontrol show config` output, or None when the line is absent."""
    match = re.search(r"^\s*MaxArraySize\s*=\s*(\d+)", config_text, re.MULTILINE)
    return int(match.group(1)) if match else None


def cluster_max_array_size(default: int = DEFAULT_MAX_ARRAY_SIZE) -> int:
    """The cluster's MaxArraySize from `scontrol show config`, or `default` without a reachable cluster."""
    if shutil.which("scontrol") is None:
        return default
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return default
    return parse_max_array_size(out.stdout) or default


# ---------------------------------------------------------------------------------------------- files
def runs_dir(results_dir: str | Path, task: str) -> Path:
    return Path(results_dir) / "runs" / task


def result_path(results_dir: str | Path, task: str, key: str) -> Path:
    return runs_dir(results_dir, task) / f"{key}.parquet"


def history_path(results_dir: str | Path, task: str, key: str) -> Path:
    return runs_dir(results_dir, task) / f"{key}.history.parquet"


def failure_path(results_dir: str | Path, task: str, key: str) -> Path:
    return runs_dir(results_dir, task) / f"{key}.failed.json"


def started_path(results_dir: str | Path, task: str, key: str) -> Path:
    return runs_dir(results_dir, task) / f"{key}.started.json"


def checkpoint_path(results_dir: str | Path, task: str, key: str) -> Path:
    return Path(results_dir) / "checkpoints" / task / f"{key}.pt"


def temp_name(path: Path) -> Path:
    """A sibling temp name that no `*.parquet`/`*.json` listing matches (dot prefix, pid suffix)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a parquet file atomically: temp name, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def write_json(data: Any, path: str | Path) -> Path:
    """Write JSON atomically: temp name, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)
    return path


def _is_result_name(name: str) -> bool:
    return name.endswith(".parquet") and not name.startswith(".") and not name.endswith(".history.parquet")


def finished_keys(results_dir: str | Path, task: str) -> set[str]:
    """Keys of a task with a result file (status ok or diverged); reads names only, not files."""
    try:
        with os.scandir(runs_dir(results_dir, task)) as entries:
            return {e.name[: -len(".parquet")] for e in entries if _is_result_name(e.name)}
    except FileNotFoundError:
        return set()


def result_files(results_dir: str | Path, tasks: Iterable[str] | None = None) -> list[Path]:
    """Every complete result file (never a temp or history file), sorted for a stable order."""
    root = Path(results_dir) / "runs"
    if tasks is None:
        tasks = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    files = []
    for task in tasks:
        folder = runs_dir(results_dir, task)
        files += [folder / f"{k}.parquet" for k in sorted(finished_keys(results_dir, task))]
    return files


def read_results(results_dir: str | Path, tasks: Iterable[str] | None = None) -> pd.DataFrame:
    """Concatenate the result rows of finished runs."""
    return read_tables(result_files(results_dir, tasks))


def read_tables(files: Sequence[Path]) -> pd.DataFrame:
    """Concatenate many small parquet files (pyarrow directly: ~9x faster per file than pd.read_parquet)."""
    if not files:
        return pd.DataFrame()
    tables = [pq.ParquetFile(f).read() for f in files]
    return pa.concat_tables(tables, promote_options="default").to_pandas()
