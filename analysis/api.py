"""The Python API: a finished study as DataFrames, the report's tables, figures and trained timm models.

    import analysis
    study = analysis.load_study("results/demo")     # a results folder, or a study name / YAML
    study.runs                                      # runs.parquet: one row per run
    study.correlations()                            # the report's tables/correlations.parquet, computed
    study.best("reference", k=5)                    # the 5 lowest-error architectures on a task
    model = study.model(3, "reference")             # timm model with that run's kept weights
    fig = study.plot_pair("reference", "target-a")  # APR scatter (a matplotlib Figure)

A thin shell over the same pure functions as `analysis report` (`analysis.compute.analyse`,
`analysis.plots`): the tables are computed on first use and cached per (n_boot, good_range_resamples,
seed); nothing is written. Importing this module imports no torch: `.model()` imports anynet's model and
timm when it is called. Every user mistake (unknown task or architecture, a folder without runs.parquet)
is one `AnalysisError` that names the fix.
"""

from __future__ import annotations

import json
import numbers
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis import tables
from analysis.edf import GOOD_RANGE_RESAMPLES
from analysis.errors import AnalysisError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from analysis.compute import Analysis

HISTORY_COLUMNS = ("run_key", "task", "epoch", "train_loss", "lr", "seconds", "images")


class UntrainedModelWarning(UserWarning):
    """`Study.model` returns a freshly initialised network (no kept weights, or no task given)."""


def load_study(path_or_name: str | Path) -> Study:
    """A finished study: a results folder (`results/<study>`, where collect wrote runs.parquet), or a study
    name or YAML path (`demo`, `my/study.yaml`), whose `results_dir` is then read."""
    folder = Path(path_or_name)
    if folder.is_dir():
        return Study(folder)
    from pipeline.errors import PipelineError
    from pipeline.layout import study_argument
    from pipeline.study import load_study as load_definition

    try:
        definition = load_definition(path_or_name)
    except PipelineError as error:
        raise AnalysisError(
            f"{str(path_or_name)!r} is neither a results folder nor a study ({error}); give a results folder "
            "(results/<study>, holding runs.parquet), a study name or a study YAML"
        ) from None
    return Study(definition.results_dir, study_argument=study_argument(definition), definition=definition)


class Study:
    """One study's results: `.architectures`, `.runs`, `.history` (DataFrames), the report's tables as
    methods, `.best`, `.model` and `.plot_pair`. Build it with `analysis.load_study`."""

    def __init__(
        self, results_dir: str | Path, *, study_argument: str | None = None, definition: Any = None
    ) -> None:
        self.path = Path(results_dir)
        study_file = self.path / "study.yaml"
        # how to name this study on a command line, for the fixes in error messages
        self._argument = study_argument or (str(study_file) if study_file.is_file() else "<your study>")
        if not self.path.is_dir():
            raise AnalysisError(
                f"results folder {self.path} does not exist; train the study first: "
                f"python -m pipeline run --study {self._argument}"
            )
        self.mapping: dict[str, Any] | None = _read_mapping(study_file, definition)
        self.name = str((self.mapping or {}).get("name") or self.path.resolve().name)
        collect = f"python -m pipeline collect --study {self._argument}"
        self.runs: pd.DataFrame = _read_table(self.path / "runs.parquet", f"run: {collect}")
        archs = _read_table(
            self.path / "architectures.parquet", f"run: python -m pipeline sample --study {self._argument}"
        )
        self.architectures: pd.DataFrame = archs.sort_values("arch_id").reset_index(drop=True)
        self._analyses: dict[tuple[int, int, int], Analysis] = {}
        self._history: pd.DataFrame | None = None

    def __repr__(self) -> str:
        return (
            f"<analysis.Study {self.name!r}: {len(self.architectures)} architectures, {len(self.runs)} runs "
            f"of {len(self.tasks)} task(s) ({', '.join(self.tasks)}) in {self.path}>"
        )

    # ------------------------------------------------------------------------------------------ data
    @property
    def tasks(self) -> list[str]:
        """The tasks that have runs in runs.parquet, in the study's order."""
        found = list(dict.fromkeys(self.runs["task"].astype(str))) if "task" in self.runs else []
        order = list(((self.mapping or {}).get("tasks") or {}).keys())
        return [t for t in order if t in found] + [t for t in found if t not in order]

    @property
    def history(self) -> pd.DataFrame:
        """history.parquet, per (run, epoch): run_key, task, epoch, train_loss, lr, seconds, images."""
        if self._history is None:
            path = self.path / "history.parquet"
            self._history = (
                _read_table(path, f"run: python -m pipeline collect --study {self._argument}")
                if path.is_file()
                else pd.DataFrame(columns=list(HISTORY_COLUMNS))
            )
        return self._history

    # ------------------------------------------------------------------------------------------ tables
    def analysis(
        self, *, n_boot: int = 1000, good_range_resamples: int = GOOD_RANGE_RESAMPLES, seed: int = 0
    ) -> Analysis:
        """Everything `analysis report` computes (`analysis.compute.Analysis`: `.tables`, `.notes`,
        `.warnings`, `.matrix`, `.roles`), computed once per set of arguments and cached."""
        from analysis.compute import analyse

        if n_boot < 0 or good_range_resamples < 1:
            raise AnalysisError(
                f"n_boot must be 0 or more and good_range_resamples 1 or more, got {n_boot} and "
                f"{good_range_resamples}"
            )
        key = (int(n_boot), int(good_range_resamples), int(seed))
        if key not in self._analyses:
            self._analyses[key] = analyse(
                self.runs,
                self.architectures,
                self.mapping,
                n_boot=n_boot,
                good_range_resamples=good_range_resamples,
                seed=seed,
            )
        return self._analyses[key]

    def table(self, name: str, **options: int) -> pd.DataFrame:
        """One of the report's tables (tables/<name>.parquet) by name; `options` as for `analysis()`."""
        computed = self.analysis(**options).tables
        if name not in computed:
            raise AnalysisError(f"no table {name!r}; the report's tables: {', '.join(computed)}")
        return computed[name].copy()

    def correlations(self, **options: int) -> pd.DataFrame:
        """The report's tables/correlations.parquet: Spearman ρ (bootstrap 95 % CI), Pearson, Kendall and n
        per pair of tasks. Keyword-only options: n_boot (default 1000), good_range_resamples, seed."""
        return self.table("correlations", **options)

    def targets(self, **options: int) -> pd.DataFrame:
        """The report's tables/targets.parquet: per target, ρ with the reference, matched and best proxy,
        its best architecture, regret and the reading."""
        return self.table("targets", **options)

    def target_proxies(self, **options: int) -> pd.DataFrame:
        """The report's tables/target_proxies.parquet: ρ of every target with the reference and each proxy."""
        return self.table("target_proxies", **options)

    def task_summary(self, **options: int) -> pd.DataFrame:
        """The report's tables/tasks.parquet: role, classes, architectures, best/median error per task."""
        return self.table("tasks", **options)

    def edf(self, **options: int) -> pd.DataFrame:
        """The report's tables/edf.parquet: the error EDF of every task (R20 eq. 1)."""
        return self.table("edf", **options)

    def drivers(self, **options: int) -> pd.DataFrame:
        """The report's tables/drivers.parquet: ρ of error with depth, width and the other properties."""
        return self.table("drivers", **options)

    def structure(self, **options: int) -> pd.DataFrame:
        """The report's tables/structure.parquet: per stage, the best and the top-15 mean of d, w, b, g."""
        return self.table("structure", **options)

    def good_ranges(self, **options: int) -> pd.DataFrame:
        """The report's tables/good_ranges.parquet: R20's good ranges of error, depth, width and flops."""
        return self.table("good_ranges", **options)

    def topk(self, **options: int) -> pd.DataFrame:
        """The report's tables/topk.parquet: overlap of every pair of tasks' k best architectures."""
        return self.table("topk", **options)

    def regret(self, **options: int) -> pd.DataFrame:
        """The report's tables/regret.parquet: the error lost on a target by taking a source's best."""
        return self.table("regret", **options)

    # ------------------------------------------------------------------------------------------ choices
    def best(self, task: str, k: int = 5) -> pd.DataFrame:
        """The `k` lowest-error architectures on `task` (the mean over its ok seeds, as the report ranks
        them): arch_id, depths, widths, bottleneck_ratios, group_widths (lists of 4), error (%)."""
        self._require_task(task)
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise AnalysisError(f"k must be a positive integer, got {k!r}")
        errors = self._matrix_of([task])[task].dropna().sort_index().sort_values(kind="stable").head(k)
        archs = self.architectures.set_index("arch_id")
        rows = [
            {
                "arch_id": int(arch_id),
                **{col: [int(v) for v in archs.at[arch_id, col]] for col in tables.LIST_COLUMNS.values()},
                "error": float(error),
            }
            for arch_id, error in errors.items()
        ]
        columns = ["arch_id", *tables.LIST_COLUMNS.values(), "error"]
        return pd.DataFrame(rows, columns=columns).astype({"arch_id": "int64", "error": "float64"})

    def model(self, arch_id: int, task: str | None = None, *, seed: int | None = None) -> Any:
        """The architecture as a timm model (`timm.create_model("anynetx", arch=..., num_classes=...)`).

        With `task`, it has that task's class count and, when the study kept them (`keep_weights`), the
        final weights of its run on the task (the run of `seed`; default: the lowest seed with kept
        weights). Otherwise it is freshly initialised and an `UntrainedModelWarning` says why. Without a
        task it has the space's class count (1000 unless the study's `space.num_classes` says otherwise).
        The model is returned in training mode, as timm returns models; call `.eval()` to evaluate.
        """
        import timm

        import anynet.timm_entry  # noqa: F401 - registers "anynetx" with timm
        from anynet import Arch

        arch = Arch.from_row(self._arch_row(arch_id), default_strides=self._space_strides())
        if task is None:
            warnings.warn(
                f"architecture {arch_id} is freshly initialised: no task given; pass a task (one of "
                f"{', '.join(self.tasks)}) for the weights of its run there",
                UntrainedModelWarning,
                stacklevel=2,
            )
            return timm.create_model("anynetx", arch=arch, num_classes=self._space_classes())
        run = self._run_of(int(arch_id), task, seed)
        if pd.isna(run["num_classes"]):
            raise AnalysisError(
                f"runs.parquet gives no num_classes for run {run['run_key']} (an older version wrote it); "
                "collect the study again with this version, or pass task=None for an untrained model"
            )
        model = timm.create_model("anynetx", arch=arch, num_classes=int(run["num_classes"]))
        path = self._weights_path(task, str(run["run_key"]))
        if not path.is_file():
            warnings.warn(
                f"architecture {arch_id} on {task!r} is freshly initialised: no weights were kept for its "
                f"run {run['run_key']} ({self._why_no_weights(run)})",
                UntrainedModelWarning,
                stacklevel=2,
            )
            return model
        model.load_state_dict(_read_weights(path, arch.to_dict(), str(run["run_key"])))
        return model

    def plot_pair(self, task_a: str, task_b: str, *, n_boot: int = 1000, seed: int = 0) -> Figure:
        """APR scatter of `task_b`'s error (y) against `task_a`'s (x) over their shared architectures, with
        ρ (bootstrap CI from `n_boot` resamples), r and n in the title; a new Figure, no global state."""
        from analysis import plots
        from analysis.correlation import correlation_table

        for task in (task_a, task_b):
            self._require_task(task)
        if task_a == task_b:
            raise AnalysisError(f"plot_pair needs two different tasks, got {task_a!r} twice")
        matrix = self._matrix_of([task_a, task_b])
        pair, _ = correlation_table(matrix, n_boot=n_boot, seed=seed)
        metric = self.runs.groupby("task")["metric"].first() if "metric" in self.runs else {}
        names = {"top1": "top-1 ", "top5": "top-5 "}
        labels = {t: f"{t} {names.get(metric.get(t), '')}error (%)" for t in (task_a, task_b)}
        return plots.apr_figure(matrix, task_b, [task_a], pair, labels)

    # ------------------------------------------------------------------------------------------ helpers
    def _require_task(self, task: str) -> None:
        if task not in self.tasks:
            known = ", ".join(self.tasks) or "none yet"
            raise AnalysisError(f"no task {task!r} in study {self.name!r}; its tasks with runs: {known}")

    def _matrix_of(self, task_names: list[str]) -> pd.DataFrame:
        """Mean ok error per (architecture, task) of the given tasks; an error when one has no ok run."""
        ok = self.runs[(self.runs["status"] == "ok") & self.runs["task"].isin(task_names)]
        matrix = tables.error_matrix(tables.validate_runs(ok)) if len(ok) else pd.DataFrame()
        empty = [t for t in task_names if t not in matrix.columns]
        if empty:
            raise AnalysisError(
                f"task {empty[0]!r} has no run with status 'ok' in {self.path / 'runs.parquet'}"
            )
        return matrix[task_names]

    def _arch_row(self, arch_id: int) -> pd.Series:
        is_id = isinstance(arch_id, numbers.Integral) and not isinstance(arch_id, bool)
        found = (
            self.architectures[self.architectures["arch_id"] == arch_id] if is_id else self.architectures[:0]
        )
        if found.empty:
            ids = self.architectures["arch_id"]
            raise AnalysisError(
                f"no architecture {arch_id!r} in {self.path / 'architectures.parquet'} "
                f"(arch_id {ids.min()}..{ids.max()}, {len(ids)} architectures)"
            )
        return found.iloc[0]

    def _run_of(self, arch_id: int, task: str, seed: int | None) -> pd.Series:
        """The run of (architecture, task) whose weights `model` loads."""
        self._require_task(task)
        runs = self.runs[(self.runs["arch_id"] == arch_id) & (self.runs["task"] == task)]
        if seed is not None:
            runs = runs[runs["seed"] == seed]
        if runs.empty:
            seeds = "" if seed is None else f" with seed {seed}"
            raise AnalysisError(
                f"architecture {arch_id} has no run on task {task!r}{seeds} in {self.path / 'runs.parquet'}; "
                "pass task=None for an untrained model"
            )
        kept = [self._weights_path(task, str(k)).is_file() for k in runs["run_key"]]
        return runs.assign(_kept=kept).sort_values(["_kept", "seed"], ascending=[False, True]).iloc[0]

    def _why_no_weights(self, run: pd.Series) -> str:
        policy = str((self.mapping or {}).get("keep_weights", "best-5"))
        if run["status"] != "ok":
            return f"the run ended {run['status']}"
        if policy.startswith("best-"):
            return f"not among the task's {policy[5:]} best, keep_weights: {policy}; `all` keeps every run's"
        if policy == "none":
            return "keep_weights: none; `best-K` or `all` keeps them"
        return (
            f"keep_weights: {policy}, but its file {self._weights_path(run['task'], run['run_key'])} is gone"
        )

    def _weights_path(self, task: str, key: str) -> Path:
        from pipeline.layout import weights_path

        return weights_path(self.path, task, key)

    def _space(self) -> Mapping[str, Any]:
        return (self.mapping or {}).get("space") or {}

    def _space_strides(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self._space().get("strides") or (1, 2, 2, 2))

    def _space_classes(self) -> int:
        return int(self._space().get("num_classes") or 1000)


def _read_mapping(path: Path, definition: Any) -> dict[str, Any] | None:
    """The study as plain data: results_dir/study.yaml (what the runs were trained with), else the
    loaded study definition, else None (the report then infers roles from task names)."""
    if path.is_file():
        from pipeline import fsio
        from pipeline.errors import PipelineError

        try:
            mapping = fsio.read_yaml(path)
        except PipelineError as error:
            raise AnalysisError(str(error)) from None
        if not isinstance(mapping, dict):
            raise AnalysisError(f"{path} must hold a mapping (name, reference, tasks, …)")
        return mapping
    return definition.to_dict() if definition is not None else None


def _read_table(path: Path, fix: str) -> pd.DataFrame:
    from pipeline import fsio
    from pipeline.errors import PipelineError

    if not path.is_file():
        raise AnalysisError(f"{path} is missing; {fix}")
    try:
        return fsio.read_table(path, fix=fix)
    except PipelineError as error:
        raise AnalysisError(str(error)) from None


def _read_weights(path: Path, arch: dict[str, Any], key: str) -> dict[str, Any]:
    """The state dict of a kept-weights file, after checking it is this architecture's run."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - not a dict
    except Exception as error:  # safetensors raises several types for a damaged file
        raise AnalysisError(f"{path} is not a readable safetensors file ({error}); delete it") from None
    recorded = json.loads(metadata.get("arch", "null"))
    if recorded != arch or metadata.get("run_key") != key:
        raise AnalysisError(
            f"{path} holds the weights of run {metadata.get('run_key')!r} of architecture {recorded}, not "
            f"of run {key!r} of {arch}; the file was moved or edited: delete it"
        )
    return state
