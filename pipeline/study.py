"""Study files: load a study YAML, resolve every task's recipe, and validate everything up front.

A study is a design space, a set of tasks (dataset + variant + recipe), a reference task and executor
settings (schema in docs/internals.md). `load_study` collects every problem it finds (unknown keys with the
allowed ones, missing keys, values of the wrong type, unknown datasets, a reference that is not a task) and
raises them together as one `StudyError`, so a typo is found before five hundred jobs are submitted.
`check_data` says which datasets are not prepared yet and the command that prepares each.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import DatasetError, StudyError

STUDIES_DIR = Path(__file__).parent / "studies"
ROLES = ("reference", "proxy", "target")
METRICS = ("top1", "top5")
EXECUTOR_KINDS = ("slurm", "local", "debug")


@dataclass(frozen=True)
class Space:
    """The AnyNetX design space to sample from (R20 §3.2); the flops band is counted at `im_size`."""

    n: int
    flops_mf: tuple[float, float]
    seed: int = 0
    strides: tuple[int, ...] = (1, 2, 2, 2)
    im_size: int = 224  # complexity is counted at this resolution with `num_classes` outputs
    num_classes: int = 1000


@dataclass(frozen=True)
class Recipe:
    """How one task trains. `lr` is for `batch_size`; `resolution` is the crop size (None: store size)."""

    epochs: int
    metric: str  # "top1" | "top5": the error a task reports
    optimizer: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = True
    lr: float = 0.05
    lr_min: float = 0.0
    weight_decay: float = 5e-5
    schedule: str = "cosine"  # half-period cosine ("cosine") or "constant"
    schedule_unit: str = "step"  # the cosine advances per optimizer "step" or per "epoch"
    warmup_epochs: float = 0.0
    batch_size: int = 128
    eval_batch_size: int = 256
    label_smoothing: float = 0.0
    resolution: int | None = None
    compile: bool = False  # torch.compile the model (CUDA only)


@dataclass(frozen=True)
class Task:
    """One (dataset, variant, recipe) that every architecture is trained on."""

    name: str
    dataset: str
    recipe: Recipe
    variant: Mapping[str, Any] | None = None
    role: str = "target"
    proxy: str | None = None
    dataset_file: str | None = None  # a user's own catalogue YAML (absolute path); `dataset` is its name

    @property
    def entry(self) -> str:
        """What `catalogue.load_entry` takes for this task's dataset: the user's YAML or the name."""
        return self.dataset_file or self.dataset

    @property
    def variant_json(self) -> str:
        """The variant as canonical JSON ("null" for the whole store): stable across processes."""
        return json.dumps(dict(self.variant) if self.variant else None, sort_keys=True)


@dataclass(frozen=True)
class ExecutorSpec:
    """Where and how runs are fanned out; `slurm` holds extra sbatch parameters (submitit names)."""

    kind: str = "local"
    profile: str | None = None
    array_parallelism: int = 64
    runs_per_job: int = 8
    timeout_min: int = 240
    max_array_size: int | None = None  # None: read from `scontrol show config`
    max_num_timeout: int = 5  # requeues after a timeout/preemption before giving up
    cpus_per_task: int | None = None
    gpus_per_node: int | None = None
    mem_gb: float | None = None
    partition: str | None = None
    slurm: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Study:
    name: str
    data_root: Path
    results_dir: Path
    space: Space
    reference: str
    tasks: Mapping[str, Task]
    executor: ExecutorSpec
    recipe: Mapping[str, Any] = field(default_factory=dict)  # the study-wide defaults, as written
    seeds: tuple[int, ...] = (0,)
    description: str = ""
    source: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """The resolved study as plain data (absolute paths, full recipes), as launch writes it."""
        return {
            "name": self.name,
            "description": self.description or None,
            "data_root": str(self.data_root.resolve()),
            "results_dir": str(self.results_dir.resolve()),
            "space": _plain(dataclasses.asdict(self.space)),
            "reference": self.reference,
            "seeds": list(self.seeds),
            "recipe": dict(self.recipe),
            "tasks": {
                name: {
                    "dataset": t.dataset_file or t.dataset,
                    "variant": dict(t.variant) if t.variant else None,
                    "role": t.role,
                    "proxy": t.proxy,
                    "recipe": dataclasses.asdict(t.recipe),
                }
                for name, t in self.tasks.items()
            },
            "executor": _plain(dataclasses.asdict(self.executor)),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------- schema
# key -> (expected kind, required). Kinds: int, float (int accepted), bool, str, path, intlist, floatpair,
# mapping, optional variants ("?int") accept null.
_TOP = {
    "name": ("str", True),
    "description": ("?str", False),
    "data_root": ("str", False),
    "results_dir": ("str", False),
    "space": ("mapping", True),
    "reference": ("str", True),
    "recipe": ("mapping", False),
    "tasks": ("mapping", True),
    "executor": ("mapping", False),
    "seeds": ("intlist", False),
}
_SPACE = {
    "n": ("int", True),
    "flops_mf": ("floatpair", True),
    "seed": ("int", False),
    "strides": ("intlist", False),
    "im_size": ("int", False),
    "num_classes": ("int", False),
}
_RECIPE = {
    "epochs": ("int", False),
    "metric": ("str", False),
    "optimizer": ("str", False),
    "momentum": ("float", False),
    "nesterov": ("bool", False),
    "lr": ("float", False),
    "lr_min": ("float", False),
    "weight_decay": ("float", False),
    "schedule": ("str", False),
    "schedule_unit": ("str", False),
    "warmup_epochs": ("float", False),
    "batch_size": ("int", False),
    "eval_batch_size": ("int", False),
    "label_smoothing": ("float", False),
    "resolution": ("?int", False),
    "compile": ("bool", False),
}
_TASK = {
    "dataset": ("str", True),
    "variant": ("?mapping", False),
    "role": ("str", False),
    "proxy": ("?str", False),
    "recipe": ("mapping", False),
}
_EXECUTOR = {
    "kind": ("str", False),
    "profile": ("?str", False),
    "array_parallelism": ("int", False),
    "runs_per_job": ("int", False),
    "timeout_min": ("int", False),
    "max_array_size": ("?int", False),
    "max_num_timeout": ("int", False),
    "cpus_per_task": ("?int", False),
    "gpus_per_node": ("?int", False),
    "mem_gb": ("?float", False),
    "partition": ("?str", False),
    "slurm": ("mapping", False),
}
_CHOICES = {
    "recipe.metric": METRICS,
    "recipe.optimizer": ("sgd",),
    "recipe.schedule": ("cosine", "constant"),
    "recipe.schedule_unit": ("step", "epoch"),
    "executor.kind": EXECUTOR_KINDS,
}


def _type_ok(kind: str, value: Any) -> bool:
    if kind.startswith("?"):
        return value is None or _type_ok(kind[1:], value)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str) and value != ""
    if kind == "mapping":
        return isinstance(value, Mapping)
    if kind == "intlist":
        return isinstance(value, list) and all(_type_ok("int", v) for v in value) and len(value) > 0
    if kind == "floatpair":
        return isinstance(value, list) and len(value) == 2 and all(_type_ok("float", v) for v in value)
    raise AssertionError(kind)


_KIND_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a non-empty string",
    "mapping": "a mapping",
    "intlist": "a list of integers",
    "floatpair": "a list of two numbers [low, high]",
}


def _check_section(where: str, data: Any, schema: dict, problems: list[str]) -> dict[str, Any]:
    """Check one mapping against its schema; return the keys that passed."""
    if not isinstance(data, Mapping):
        problems.append(f"{where}: must be a mapping, got {type(data).__name__} {data!r}")
        return {}
    good: dict[str, Any] = {}
    for key, value in data.items():
        if key not in schema:
            problems.append(f"{where}: unknown key {key!r} (allowed: {', '.join(schema)})")
            continue
        kind, _ = schema[key]
        if not _type_ok(kind, value):
            word = _KIND_WORDS[kind.lstrip("?")] + (" or null" if kind.startswith("?") else "")
            problems.append(f"{where}.{key}: must be {word}, got {value!r}")
            continue
        choices = _CHOICES.get(f"{where.split('.')[-1] if '.' in where else where}.{key}")
        if choices and value not in choices:
            problems.append(f"{where}.{key}: {value!r} is not one of {', '.join(map(str, choices))}")
            continue
        good[key] = value
    for key, (_, required) in schema.items():
        if required and key not in data:
            problems.append(f"{where}: missing key {key!r}")
    return good


def _catalogue_datasets() -> tuple[set[str] | None, Any]:
    """Names in the dataset catalogue and its `load_entry`, or (None, None) before the catalogue exists."""
    try:
        from pipeline.data import catalogue
    except ImportError:
        return None, None
    return set(catalogue.list_datasets()), catalogue.load_entry


def _catalogue_recipe(load_entry: Any, dataset: str) -> dict[str, Any]:
    if load_entry is None:
        return {}
    recipe = getattr(load_entry(dataset), "recipe", None) or {}
    return {k: v for k, v in dict(recipe).items() if k in ("epochs", "metric")}


def resolve_path(name_or_path: str | Path) -> Path:
    """`demo` -> pipeline/studies/demo.yaml; anything with a suffix or a separator is a path."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text or Path(text).is_file():
        path = Path(text)
    else:
        path = STUDIES_DIR / f"{text}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in STUDIES_DIR.glob("*.yaml"))
        raise StudyError(f"no study file {str(path)!r}; give a path or one of: {', '.join(known)}")
    return path


def load_study(
    name_or_path: str | Path, *, data_root: str | Path | None = None, results_dir: str | Path | None = None
) -> Study:
    """Load, resolve and validate a study; every problem is reported at once as one StudyError."""
    path = resolve_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise StudyError(f"{path}: not valid YAML ({error})") from error
    return study_from_dict(raw, source=path, data_root=data_root, results_dir=results_dir)


def study_from_dict(
    raw: Any,
    *,
    source: Path | None = None,
    data_root: str | Path | None = None,
    results_dir: str | Path | None = None,
) -> Study:
    """Build a Study from parsed YAML; see `load_study`."""
    where = str(source) if source else "study"
    problems: list[str] = []
    top = _check_section("study", raw, _TOP, problems)
    space_raw = _check_section("space", top.get("space", {}), _SPACE, problems) if "space" in top else {}
    defaults = _check_section("recipe", top.get("recipe", {}), _RECIPE, problems)
    exec_raw = _check_section("executor", top.get("executor", {}), _EXECUTOR, problems)
    for key in ("runs_per_job", "array_parallelism", "timeout_min"):
        if key in exec_raw and exec_raw[key] < 1:
            problems.append(f"executor.{key}: must be at least 1, got {exec_raw[key]}")
    if "flops_mf" in space_raw and space_raw["flops_mf"][0] > space_raw["flops_mf"][1]:
        problems.append(f"space.flops_mf: low must not exceed high, got {space_raw['flops_mf']}")
    if "strides" in space_raw and len(space_raw["strides"]) != 4:
        problems.append(f"space.strides: must list 4 stage strides, got {space_raw['strides']}")

    known, load_entry = _catalogue_datasets()
    tasks: dict[str, Task] = {}
    tasks_raw = top.get("tasks", {})
    if "tasks" in top and not tasks_raw:
        problems.append("tasks: must name at least one task")
    for name, spec in tasks_raw.items():
        t = _check_section(f"tasks.{name}", spec, _TASK, problems)
        task_recipe = _check_section(f"tasks.{name}.recipe", t.get("recipe", {}), _RECIPE, problems)
        dataset = t.get("dataset")
        if dataset is None:
            continue
        dataset_file = None
        if str(dataset).endswith((".yaml", ".yml")):  # a user's own dataset (datasets/imagefolder.yaml)
            found = _dataset_file(str(dataset), source)
            if found is None or load_entry is None:
                problems.append(
                    f"tasks.{name}.dataset: no dataset file {dataset!r} (looked beside the study file "
                    f"and in {Path.cwd()}); copy datasets/imagefolder.yaml there"
                )
                continue
            try:
                dataset_file, dataset = str(found), load_entry(found).name
            except DatasetError as error:
                problems.append(f"tasks.{name}.dataset: {error}")
                continue
        elif known is not None and dataset not in known:
            problems.append(
                f"tasks.{name}.dataset: unknown dataset {dataset!r} (catalogue: {', '.join(sorted(known))})"
            )
            continue
        try:
            catalogue_recipe = _catalogue_recipe(load_entry, dataset_file or dataset)
        except DatasetError as error:
            problems.append(f"tasks.{name}.dataset: catalogue entry {dataset!r} is unusable: {error}")
            continue
        merged = {**defaults, **catalogue_recipe, **task_recipe}
        missing = [k for k in ("epochs", "metric") if k not in merged]
        if missing:
            problems.append(
                f"tasks.{name}.recipe: missing key(s) {', '.join(map(repr, missing))} "
                f"(not in the study recipe, the catalogue entry or the task)"
            )
            continue
        for key in ("epochs", "batch_size", "eval_batch_size"):
            if key in merged and merged[key] < 1:
                problems.append(f"tasks.{name}.recipe.{key}: must be at least 1, got {merged[key]}")
        role = t.get("role", "reference" if name == top.get("reference") else "target")
        if role not in ROLES:
            problems.append(f"tasks.{name}.role: {role!r} is not one of {', '.join(ROLES)}")
        tasks[name] = Task(
            name=name,
            dataset=dataset,
            recipe=Recipe(**merged),
            variant=t.get("variant") or None,
            role=role,
            proxy=t.get("proxy"),
            dataset_file=dataset_file,
        )
    for name, task in tasks.items():
        if task.proxy is not None and task.proxy not in tasks_raw:
            problems.append(
                f"tasks.{name}.proxy: {task.proxy!r} is not a task (tasks: {', '.join(tasks_raw)})"
            )
    reference = top.get("reference")
    if reference is not None and isinstance(tasks_raw, Mapping) and reference not in tasks_raw:
        problems.append(f"reference: {reference!r} is not among the tasks ({', '.join(tasks_raw)})")
    if problems:
        raise StudyError(f"{where}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))

    name = top["name"]
    space_raw = {k: tuple(v) if isinstance(v, list) else v for k, v in space_raw.items()}
    return Study(
        name=name,
        description=top.get("description") or "",
        data_root=Path(data_root if data_root is not None else top.get("data_root", "data")),
        results_dir=Path(
            results_dir if results_dir is not None else top.get("results_dir", f"results/{name}")
        ),
        space=Space(**space_raw),
        reference=reference,
        tasks=tasks,
        executor=ExecutorSpec(**exec_raw),
        recipe=defaults,
        seeds=tuple(top.get("seeds", (0,))),
        source=source,
    )


def _dataset_file(text: str, study_file: Path | None) -> Path | None:
    """A dataset YAML named in a study: absolute, beside the study file, or relative to the working dir."""
    candidates = [Path(text)] if Path(text).is_absolute() else [Path.cwd() / text]
    if study_file is not None and not Path(text).is_absolute():
        candidates.insert(0, Path(study_file).parent / text)
    return next((c.resolve() for c in candidates if c.is_file()), None)


def prepare_command(dataset: str, data_root: str | Path = "data") -> str:
    """The exact command that prepares `dataset` (synthetic datasets need no --source)."""
    _, load_entry = _catalogue_datasets()
    try:
        synthetic = load_entry is not None and getattr(load_entry(dataset), "format", "") == "synthetic"
    except DatasetError:
        synthetic = False
    root = "" if Path(data_root) == Path("data") else f" --data-root {data_root}"
    return f"python -m pipeline prepare {dataset}" + ("" if synthetic else " --source DIR") + root


def check_data(study: Study) -> list[str]:
    """One line per dataset not prepared under `data_root` (with its prepare command) or unusable variant."""
    from pipeline.data.store import is_store
    from pipeline.runs import open_task_store  # local: runs imports this module

    unprepared: dict[str, list[str]] = {}  # catalogue name or user YAML -> tasks
    problems = []
    for task in study.tasks.values():
        if not is_store(Path(study.data_root) / task.dataset):
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


def require_data(study: Study) -> None:
    """Raise one DatasetError listing every unprepared dataset of the study."""
    problems = check_data(study)
    if problems:
        raise DatasetError(f"{len(problems)} dataset(s) not ready:\n  " + "\n  ".join(problems))
