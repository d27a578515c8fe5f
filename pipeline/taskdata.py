"""A task's data: its store with the variant applied, its identity in run keys, readiness, and loaders.

`open_task_store` opens a task's store once per process; `task_identity` is what the data contributes to
run keys (the fingerprint hashes the store's content, see pipeline.data.store). `check_data` lists every
dataset a study still needs, each with the command that prepares it.

A task whose store is not here can still be planned when a result bank recorded its identity
(`results_dir/identities.json`, written by `pipeline bank import`): the bank's runs of it then count
without the data (the lab that trained them had a store with that fingerprint). Only training a run of
such a task needs its data; `launch` says so before submitting anything. `TaskData` holds one task's two
device loaders for a whole chunk of runs: the images go to the device once per job, not once per run
(at ImageNet scale the 50,000 validation images would otherwise be re-read for every run).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pipeline import fsio
from pipeline.errors import DatasetError
from pipeline.plan import TaskIdentity
from pipeline.study import Study, Task

_STORES: dict[tuple[str, str, str], Any] = {}


def open_task_store(study: Study, task: Task) -> Any:
    """The task's store with its variant applied (opened once per process); DatasetError when absent."""
    from pipeline.data.variants import open_dataset

    cache_key = (str(Path(study.data_root).resolve()), task.dataset, task.variant_json)
    if cache_key not in _STORES:
        _STORES[cache_key] = open_dataset(study.data_root, task.dataset, dict(task.variant or {}) or None)
    return _STORES[cache_key]


def forget_stores() -> None:
    """Drop the per-process store cache (after a store was rebuilt in this process)."""
    _STORES.clear()


IDENTITIES_FILE = "identities.json"


def has_store(study: Study, task: Task) -> bool:
    from pipeline.data.store import is_store

    return is_store(Path(study.data_root) / task.dataset)


def recorded_identities(study: Study) -> dict[str, TaskIdentity]:
    """The task identities a result bank recorded for tasks whose data is not here (by task name)."""
    path = Path(study.results_dir) / IDENTITIES_FILE
    if not path.is_file():
        return {}
    raw = fsio.read_json(path, fix="delete it and import the bank again")
    return {
        name: TaskIdentity(
            **{k: record[k] for k in ("dataset", "variant_json", "fingerprint", "num_classes")}
        )
        for name, record in raw.items()
    }


def record_identities(study: Study, identities: dict[str, TaskIdentity], source: str) -> None:
    """Remember identities of tasks whose data is not here (kept with those already recorded)."""
    path = Path(study.results_dir) / IDENTITIES_FILE
    raw = fsio.read_json(path) if path.is_file() else {}
    for name, identity in identities.items():
        raw[name] = {**dataclasses.asdict(identity), "source": source}
    fsio.write_json(raw, path)


def bank_identity(study: Study, task: Task) -> TaskIdentity | None:
    """The recorded identity of a task without local data, when it is for this task's dataset and variant."""
    recorded = recorded_identities(study).get(task.name)
    if recorded is None or (recorded.dataset, recorded.variant_json) != (task.dataset, task.variant_json):
        return None
    return recorded


def task_identity(study: Study, task: Task) -> TaskIdentity:
    """The identity of the task's data: its local store's, else the one a result bank recorded."""
    if not has_store(study, task):
        recorded = bank_identity(study, task)
        if recorded is not None:
            return recorded
    store = open_task_store(study, task)
    return TaskIdentity(task.dataset, task.variant_json, str(store.fingerprint), int(store.num_classes))


def prepare_command(dataset: str, data_root: str | Path = "data") -> str:
    """The exact command that prepares `dataset` (synthetic datasets need no --source)."""
    from pipeline.data.catalogue import load_entry

    try:
        synthetic = load_entry(dataset).format == "synthetic"
    except DatasetError:
        synthetic = False
    root = "" if Path(data_root) == Path("data") else f" --data-root {data_root}"
    return f"python -m pipeline prepare {dataset}" + ("" if synthetic else " --source DIR") + root


def check_data(study: Study, provided: frozenset[str] = frozenset()) -> list[str]:
    """One line per dataset not prepared under `data_root` (with its prepare command) or unusable variant;
    tasks in `provided` (identities given by a bank being imported) need no data."""
    from pipeline.data.store import is_store

    unprepared: dict[str, list[str]] = {}  # catalogue name or user YAML -> tasks
    problems = []
    for task in study.tasks.values():
        if not is_store(Path(study.data_root) / task.dataset):
            if (
                task.name not in provided and bank_identity(study, task) is None
            ):  # a bank's identity stands in
                unprepared.setdefault(task.entry, []).append(task.name)
            continue
        try:
            open_task_store(study, task)
        except DatasetError as error:
            problems.append(f"task {task.name!r}: variant {task.variant_json} of {task.dataset!r}: {error}")
    lines = [
        f"dataset {dataset!r} (task{'s' if len(tasks) > 1 else ''} {', '.join(tasks)}) is not prepared under "
        f"{study.data_root}/; run: {prepare_command(dataset, study.data_root)}"
        for dataset, tasks in unprepared.items()
    ]
    return lines + problems


def require_data(study: Study, provided: frozenset[str] = frozenset()) -> None:
    """Raise one DatasetError listing every unprepared dataset of the study."""
    problems = check_data(study, provided)
    if problems:
        raise DatasetError(f"{len(problems)} dataset(s) not ready:\n  " + "\n  ".join(problems))


class TaskData:
    """One task's store and its train/val device loaders, built once and reused by every run of a chunk.

    The training loader's order and augmentation depend on (run seed, epoch) only: `for_run(seed)` reseeds
    it without moving the images again. Both loaders are built on first use.
    """

    def __init__(self, study: Study, task: Task, device: str) -> None:
        self.task, self.device = task, device
        self.store = open_task_store(study, task)
        recipe = task.recipe
        self.crop = int(recipe.resolution or self.store.meta["resolution"][0])
        self._train: Any = None
        self._val: Any = None

    def _loader(self, split: str, *, train: bool, batch_size: int, seed: int) -> Any:
        from pipeline.data.loader import DeviceLoader

        return DeviceLoader(
            self.store,
            split,
            batch_size=batch_size,
            train=train,
            crop_size=self.crop,
            seed=seed,
            device=self.device,
            channels_last=True,
        )

    def train_loader(self, seed: int) -> Any:
        """The training loader, reseeded for a run of `seed`."""
        if self._train is None:
            self._train = self._loader("train", train=True, batch_size=self.task.recipe.batch_size, seed=seed)
        self._train.set_seed(seed)
        return self._train

    def val_loader(self) -> Any:
        if self._val is None:
            self._val = self._loader("val", train=False, batch_size=self.task.recipe.eval_batch_size, seed=0)
        return self._val

    @property
    def num_classes(self) -> int:
        return int(self.store.num_classes)
