"""Study files: load a study YAML, resolve every task's recipe, and validate everything up front.

A study is a design space, a set of tasks (dataset + variant + recipe), a reference task and executor
settings (schema in docs/internals.md). `load_study` collects every problem it finds — unknown keys with
the allowed ones, missing keys, values of the wrong type or outside their range, names that cannot be
folder names, unknown datasets, duplicate seeds, a reference that is not a task — and raises them together
as one `StudyError`, so a typo is found before five hundred jobs are submitted. The YAML is read strictly
(UTF-8, no duplicate keys, `5e-5` is a number: `pipeline.fsio.parse_yaml`).

A `ladder:` section generates proxy tasks of one task (pipeline.ladder); `replicates:` adds extra-seed runs
of a drawn subset of the architectures (pipeline.plan); `zero_cost: false` leaves the zero-cost predictors
(pipeline.zero_cost) out of `pipeline run` (default true).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import fsio, validate
from pipeline.data.catalogue import list_datasets, load_entry
from pipeline.data.variants import canonical_variant
from pipeline.errors import DatasetError, PipelineError, StudyError
from pipeline.study_schema import EXECUTOR_KINDS as EXECUTOR_KINDS  # re-exported: verbs name the kinds
from pipeline.study_schema import (
    EXECUTOR_SCHEMA,
    RECIPE_SCHEMA,
    REPLICATES_SCHEMA,
    SPACE_SCHEMA,
    TASK_SCHEMA,
    TOP_SCHEMA,
    check_section,
    problem_message,
)

STUDIES_DIR = Path(__file__).parent / "studies"  # package data (shipped in the wheel)
ROLES = ("reference", "proxy", "target")


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
    schedule_unit: str = "step"  # the cosine advances per optimizer "step" or once per "epoch" (pycls)
    warmup_epochs: float = 0.0
    batch_size: int = 128
    eval_batch_size: int = 256
    label_smoothing: float = 0.0
    resolution: int | None = None
    precise_bn_batches: int = 0  # >0: recompute BN statistics on this many training batches before eval
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
    rung: Mapping[str, Any] | None = None  # a ladder rung: {of, factor, value} (pipeline.ladder)

    @property
    def entry(self) -> str:
        """What `catalogue.load_entry` takes for this task's dataset: the user's YAML or the name."""
        return self.dataset_file or self.dataset

    @property
    def variant_json(self) -> str:
        """The variant as canonical JSON ("null" for the whole store): stable across processes."""
        return json.dumps(dict(self.variant) if self.variant else None, sort_keys=True)


@dataclass(frozen=True)
class Replicates:
    """Extra seeds for `archs` architectures drawn with `seed`, on `tasks` (None: every task)."""

    archs: int
    seeds: tuple[int, ...]
    tasks: tuple[str, ...] | None = None
    seed: int = 0


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
    threads_per_job: int = 1  # torch CPU threads of each job (results depend on it; recorded per run)
    local_jobs: int | None = None  # local executor: jobs at once (None: cores // threads_per_job)
    slurm: Mapping[str, Any] = field(default_factory=dict)
    given: tuple[str, ...] = field(default=(), compare=False)  # keys the study set (they override a profile)


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
    replicates: Replicates | None = None
    keep_weights: str = "best-5"  # none | all | best-K (per task, decided at collect)
    ladder: Mapping[str, Any] | None = None  # the ladder section as written (its tasks are in `tasks`)
    zero_cost: bool = True  # `pipeline run` scores every architecture with the zero-cost predictors
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
            "replicates": None if self.replicates is None else _plain(dataclasses.asdict(self.replicates)),
            "keep_weights": self.keep_weights,
            "zero_cost": self.zero_cost,
            "recipe": dict(self.recipe),
            "tasks": {
                name: {
                    "dataset": t.dataset_file or t.dataset,
                    "variant": dict(t.variant) if t.variant else None,
                    "role": t.role,
                    "proxy": t.proxy,
                    "recipe": dataclasses.asdict(t.recipe),
                    **({"rung": _plain(t.rung)} if t.rung else {}),
                }
                for name, t in self.tasks.items()
            },
            "executor": _plain({k: v for k, v in dataclasses.asdict(self.executor).items() if k != "given"}),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def resolve_path(name_or_path: str | Path) -> Path:
    """`demo` -> the shipped pipeline/studies/demo.yaml; anything with a suffix or a separator is a path."""
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
        raw = fsio.read_yaml(path)
    except PipelineError as error:
        raise StudyError(str(error)) from None
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
    top = check_section("study", raw, TOP_SCHEMA, problems)
    space_raw = check_section("space", top.get("space", {}), SPACE_SCHEMA, problems) if "space" in top else {}
    defaults = check_section("recipe", top.get("recipe", {}), RECIPE_SCHEMA, problems)
    exec_raw = check_section("executor", top.get("executor", {}), EXECUTOR_SCHEMA, problems)
    _check_space(space_raw, problems)
    seeds = tuple(top.get("seeds", (0,)))
    _check_seeds("seeds", seeds, problems)
    replicates = _replicates(top.get("replicates"), seeds, problems)
    keep_weights = _keep_weights(top.get("keep_weights", "best-5"), problems)

    tasks_raw = dict(top.get("tasks", {}))
    if "tasks" in top and not tasks_raw:
        problems.append("tasks: must name at least one task")
    if top.get("ladder") is not None:
        from pipeline.ladder import expand_ladder

        try:
            tasks_raw.update(expand_ladder(top["ladder"], tasks_raw))
        except StudyError as error:
            problems.append(f"ladder: {error}")
    tasks = {}
    for name, spec in tasks_raw.items():
        task = _task(name, spec, defaults, top, source, problems)
        if task is not None:
            tasks[name] = task
    for name, task in tasks.items():
        if task.proxy is not None and task.proxy not in tasks_raw:
            problems.append(
                f"tasks.{name}.proxy: {task.proxy!r} is not a task (tasks: {', '.join(tasks_raw)})"
            )
    reference = top.get("reference")
    if reference is not None and reference not in tasks_raw:
        problems.append(f"reference: {reference!r} is not among the tasks ({', '.join(tasks_raw)})")
    if replicates is not None and replicates.tasks is not None:
        unknown = [t for t in replicates.tasks if t not in tasks_raw]
        if unknown:
            problems.append(f"replicates.tasks: {unknown} are not tasks (tasks: {', '.join(tasks_raw)})")
    if problems:
        raise StudyError(problem_message(where, problems))

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
        executor=ExecutorSpec(**exec_raw, given=tuple(exec_raw)),
        recipe=defaults,
        seeds=seeds,
        replicates=replicates,
        keep_weights=keep_weights,
        ladder=top.get("ladder"),
        zero_cost=bool(top.get("zero_cost", True)),
        source=source,
    )


def _check_space(space: dict[str, Any], problems: list[str]) -> None:
    from anynet.sampler import space_problems

    band = space.get("flops_mf", (0.0, 1.0))
    problems += [f"space: {p}" for p in space_problems(band, space.get("strides", (1, 2, 2, 2)), unit="MF")]


def _check_seeds(where: str, seeds: tuple[int, ...], problems: list[str]) -> None:
    if any(not validate.is_int(s) or s < 0 for s in seeds):
        problems.append(f"{where}: seeds must be non-negative integers, got {list(seeds)}")
    elif len(set(seeds)) != len(seeds):
        dup = sorted({s for s in seeds if seeds.count(s) > 1})
        problems.append(
            f"{where}: seed(s) {dup} listed twice; a seed trains the same run again, list it once"
        )


def _replicates(raw: Any, seeds: tuple[int, ...], problems: list[str]) -> Replicates | None:
    if raw is None:
        return None
    rep = check_section("replicates", raw, REPLICATES_SCHEMA, problems)
    if "seeds" not in rep or "archs" not in rep:
        return None
    rep_seeds = tuple(rep["seeds"])
    _check_seeds("replicates.seeds", rep_seeds, problems)
    overlap = sorted(set(rep_seeds) & set(seeds))
    if overlap:
        problems.append(f"replicates.seeds: {overlap} are already study seeds (every architecture has them)")
    tasks = rep.get("tasks")
    return Replicates(
        int(rep["archs"]), rep_seeds, None if tasks is None else tuple(tasks), int(rep.get("seed", 0))
    )


def _keep_weights(value: Any, problems: list[str]) -> str:
    ok = value in ("none", "all") or (
        isinstance(value, str) and value.startswith("best-") and value[5:].isdigit() and int(value[5:]) >= 1
    )
    if not ok:
        problems.append(f"keep_weights: {value!r} is not one of none, all, best-K (K >= 1, e.g. best-5)")
    return str(value)


def _catalogue_recipe(dataset: str) -> dict[str, Any]:
    return {k: v for k, v in dict(load_entry(dataset).recipe or {}).items() if k in ("epochs", "metric")}


def _task(
    name: Any, spec: Any, defaults: dict, top: dict, source: Path | None, problems: list[str]
) -> Task | None:
    """One task from its raw mapping, with its recipe resolved: study ← catalogue ← task."""
    bad_name = validate.name_problem(name)
    if bad_name:
        problems.append(f"tasks: task name {bad_name}")
        return None
    t = check_section(f"tasks.{name}", spec, TASK_SCHEMA, problems)
    task_recipe = check_section(f"tasks.{name}.recipe", t.get("recipe", {}), RECIPE_SCHEMA, problems)
    try:  # one canonical form (sorted keys, fraction a float), so equal variants give equal run keys
        variant = canonical_variant(t.get("variant"), str(name))
    except DatasetError as error:
        problems.append(f"tasks.{name}.variant: {error}")
        variant = {}
    dataset = t.get("dataset")
    if dataset is None:
        return None
    dataset_file = None
    if str(dataset).endswith((".yaml", ".yml")):  # a user's own dataset (datasets/imagefolder.yaml)
        found = _dataset_file(str(dataset), source)
        if found is None:
            problems.append(
                f"tasks.{name}.dataset: no dataset file {dataset!r} (looked beside the study file "
                f"and in {Path.cwd()}); copy datasets/imagefolder.yaml there"
            )
            return None
        try:
            dataset_file, dataset = str(found), load_entry(found).name
        except DatasetError as error:
            problems.append(f"tasks.{name}.dataset: {error}")
            return None
    elif dataset not in list_datasets():
        known = ", ".join(list_datasets())
        problems.append(f"tasks.{name}.dataset: unknown dataset {dataset!r} (catalogue: {known})")
        return None
    try:
        catalogue_recipe = _catalogue_recipe(dataset_file or dataset)
    except DatasetError as error:
        problems.append(f"tasks.{name}.dataset: catalogue entry {dataset!r} is unusable: {error}")
        return None
    merged = {**defaults, **catalogue_recipe, **task_recipe}
    missing = [k for k in ("epochs", "metric") if k not in merged]
    if missing:
        problems.append(
            f"tasks.{name}.recipe: missing key(s) {', '.join(map(repr, missing))} "
            f"(not in the study recipe, the catalogue entry or the task)"
        )
        return None
    if merged.get("warmup_epochs", 0) >= merged["epochs"] and merged.get("warmup_epochs", 0) > 0:
        problems.append(
            f"tasks.{name}.recipe: warmup_epochs {merged['warmup_epochs']} must be below epochs "
            f"{merged['epochs']}"
        )
    if merged.get("lr_min", 0.0) > merged.get("lr", Recipe.lr):
        problems.append(
            f"tasks.{name}.recipe: lr_min {merged['lr_min']} must not exceed lr {merged.get('lr')}"
        )
    role = t.get("role", "reference" if name == top.get("reference") else "target")
    if role not in ROLES:
        problems.append(f"tasks.{name}.role: {role!r} is not one of {', '.join(ROLES)}")
    try:
        recipe = Recipe(**merged)
    except TypeError as error:  # a catalogue recipe key the Recipe lacks
        problems.append(f"tasks.{name}.recipe: {error}")
        return None
    return Task(
        name=name,
        dataset=dataset,
        recipe=recipe,
        variant=variant or None,
        role=role,
        proxy=t.get("proxy"),
        dataset_file=dataset_file,
        rung=t.get("rung"),
    )


def _dataset_file(text: str, study_file: Path | None) -> Path | None:
    """A dataset YAML named in a study: absolute, beside the study file, or relative to the working dir."""
    candidates = [Path(text)] if Path(text).is_absolute() else [Path.cwd() / text]
    if study_file is not None and not Path(text).is_absolute():
        candidates.insert(0, Path(study_file).parent / text)
    return next((c.resolve() for c in candidates if c.is_file()), None)
