"""The plan of a study (pure): run keys, the runs of every task, chunks and job arrays.

A run is one (architecture, task, seed). Its key is a short hash of everything that defines its result:
the architecture (every field of `anynet.Arch`), the task's dataset, variant, store fingerprint (which
hashes the store's content) and class count, the recipe and the seed. The key, never `arch_id`, is what
joins a result to the plan: an edited study or a re-sampled space gives other keys, so an old result can
never be counted as a new one.

Each architecture is run with the study's `seeds`; `replicates` adds extra seeds for K architectures drawn
with a recorded seed (issue: noise ceilings). Runs of a task are ordered by (arch_id, seed) and cut into
chunks of `runs_per_job`; a chunk is one array task.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from anynet.arch import Arch
from pipeline.study import Recipe, Study, Task

KEY_VERSION = 1
KEY_LENGTH = 12
DEFAULT_MAX_ARRAY_SIZE = 1001  # SLURM's default MaxArraySize
PLAN_COLUMNS = ("run_key", "task", "arch_id", "seed", "chunk")
# Recipe fields that change how fast a run goes, not what it computes: never in the key.
_NOT_IN_KEY = ("compile", "eval_batch_size")
# Fields added after key version 1: left out of the key while at their default, so a recipe that uses
# none of them keeps the key it always had (and its finished results).
_ADDED_SINCE_V1 = ("precise_bn_batches",)


@dataclass(frozen=True)
class TaskIdentity:
    """What a task's data contributes to run keys: the store after its variant is applied."""

    dataset: str
    variant_json: str
    fingerprint: str
    num_classes: int


def recipe_payload(recipe: Recipe) -> dict:
    """The recipe as it enters a run key (see `_NOT_IN_KEY` and `_ADDED_SINCE_V1`)."""
    defaults = {f.name: f.default for f in dataclasses.fields(Recipe)}
    return {
        k: v
        for k, v in dataclasses.asdict(recipe).items()
        if k not in _NOT_IN_KEY and not (k in _ADDED_SINCE_V1 and v == defaults[k])
    }


def run_key(arch: Arch, task: Task, identity: TaskIdentity, seed: int, *, recipe: dict | None = None) -> str:
    """A short stable hash of what defines a run's result; same inputs give the same key in any process.
    `recipe`: `recipe_payload(task.recipe)` when the caller already has it (a plan computes it once)."""
    payload = {
        "v": KEY_VERSION,
        "arch": arch.to_dict(),
        "dataset": identity.dataset,
        "variant": identity.variant_json,
        "fingerprint": identity.fingerprint,
        "num_classes": identity.num_classes,
        "recipe": recipe_payload(task.recipe) if recipe is None else recipe,
        "seed": int(seed),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def replicated_archs(study: Study, arch_ids: Sequence[int]) -> list[int]:
    """The K architectures that get replicate seeds: a seeded draw (not the first K ids), sorted."""
    rep = study.replicates
    if rep is None or rep.archs == 0:
        return []
    ids = np.asarray(sorted(int(a) for a in arch_ids), dtype=np.int64)
    chosen = np.random.default_rng(rep.seed).choice(ids, size=min(rep.archs, len(ids)), replace=False)
    return sorted(int(a) for a in chosen)


def task_seeds(study: Study, task: Task, arch_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """Per architecture, the seeds this task trains it with: the study's, plus replicates where drawn."""
    seeds = {int(a): tuple(study.seeds) for a in arch_ids}
    rep = study.replicates
    if rep is not None and (rep.tasks is None or task.name in rep.tasks):
        for arch_id in replicated_archs(study, arch_ids):
            seeds[arch_id] += tuple(s for s in rep.seeds if s not in study.seeds)
    return seeds


def arch_table(archs: pd.DataFrame) -> dict[int, Arch]:
    """{arch_id: Arch} of an architectures table."""
    return {int(r["arch_id"]): Arch.from_row(r) for r in archs.to_dict("records")}


def plan_task(
    study: Study, task: Task, archs: pd.DataFrame | dict[int, Arch], identity: TaskIdentity
) -> pd.DataFrame:
    """The runs of one task, ordered by (arch_id, seed) and cut into chunks of `runs_per_job`.
    `archs`: the architectures table, or its `arch_table` (built once for every task of a plan)."""
    by_id = arch_table(archs) if isinstance(archs, pd.DataFrame) else archs
    recipe = recipe_payload(task.recipe)
    rows = [
        (run_key(by_id[arch_id], task, identity, seed, recipe=recipe), task.name, arch_id, int(seed))
        for arch_id, seeds in sorted(task_seeds(study, task, list(by_id)).items())
        for seed in sorted(seeds)
    ]
    frame = pd.DataFrame(rows, columns=list(PLAN_COLUMNS[:-1]))
    frame["chunk"] = frame.index // study.executor.runs_per_job
    return frame.astype({"arch_id": "int64", "seed": "int64", "chunk": "int64"})


def plan_study(study: Study, archs: pd.DataFrame, identities: dict[str, TaskIdentity]) -> pd.DataFrame:
    """Every run of the study: architectures x tasks x seeds, with chunk numbers per task."""
    by_id = arch_table(archs)
    frames = [plan_task(study, t, by_id, identities[t.name]) for t in study.tasks.values()]
    if not frames:
        return pd.DataFrame(
            {c: pd.Series(dtype="int64" if c not in ("run_key", "task") else object) for c in PLAN_COLUMNS}
        )
    return pd.concat(frames, ignore_index=True)


def split_arrays(chunks: Sequence[int], max_array_size: int) -> list[list[int]]:
    """Cut a task's chunk list into job arrays of at most `max_array_size` elements (indices 0..size-1)."""
    size = max(1, int(max_array_size))
    chunks = list(chunks)
    return [chunks[i : i + size] for i in range(0, len(chunks), size)]


def parse_max_array_size(config_text: str) -> int | None:
    """MaxArraySize from `scontrol show config` output, or None when the line is absent."""
    match = re.search(r"^\s*MaxArraySize\s*=\s*(\d+)", config_text, re.MULTILINE)
    return int(match.group(1)) if match else None
