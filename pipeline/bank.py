"""`python -m pipeline bank export|import`: hand finished runs from one study to another as one file.

The expensive tasks of a study (ImageNet alone is ≈1,450 of the paper study's ≈2,070 V100-hours) give the
same results in every study that trains the same architectures with the same recipe on the same data. A
result bank carries them:

    python -m pipeline bank export --study paper --tasks imagenet,imagenet-10 --out imagenet.bank.tar
    python -m pipeline bank import imagenet.bank.tar --study my/study.yaml [--dry-run]

A bank is one tar file (written atomically) holding
    manifest.json    format and version, the study's name and space record (`layout.space_record`), the
                     run-key version, per exported task its recipe (`dataclasses.asdict`) and dataset
                     identity (`plan.TaskIdentity`: dataset, variant_json, fingerprint, num_classes), and
                     the architectures the runs use (`Arch.to_dict` with their arch_id in that study);
    runs.parquet     the exported result rows (`layout.RESULT_TYPES`): the current plan's finished runs
                     only, read from their result files as `collect` reads them (never stale ones);
    history.parquet  their per-epoch histories (run_key + `layout.HISTORY_COLUMNS`).

Import recomputes the receiving study's plan (`launch.current_plan`). A bank run counts exactly when its run
key is in that plan under the task of the same name; since a key hashes the architecture, the recipe, the
dataset identity and the seed, that means: same architecture, recipe, data and seed. Each bank run's key is
first recomputed from the bank's own records, so a damaged or hand-edited bank is refused, not half used.
A used run is written through `layout.write_result` as if it had been trained there: its row unchanged
(the `study` column still names the study that trained it) except `arch_id`, which becomes the receiving
study's id of that architecture. A run the receiving study already has a result file for is never
overwritten (its own training wins). Every run that is not used is counted with the reason, per task: the
task is not in the study, its recipe or dataset differs (naming the fields), the architecture is not in the
study's sample, or the seed is not in its plan. Importing twice changes nothing.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anynet.arch import Arch
from pipeline import fsio, jobs, layout, validate
from pipeline.cli import ArgumentParser, add_study_arguments, version
from pipeline.errors import PipelineError
from pipeline.launch import current_plan
from pipeline.plan import KEY_VERSION, TaskIdentity, arch_table, recipe_payload, run_key
from pipeline.study import Recipe, Study, Task, load_study
from pipeline.taskdata import has_store, record_identities, task_identity

FORMAT = "archcorr-result-bank"
VERSION = 1
MANIFEST, RUNS, HISTORY = "manifest.json", "runs.parquet", "history.parquet"


class BankError(PipelineError):
    """A bank file that cannot be written, read or used (foreign, damaged, of another version)."""


@dataclass(frozen=True)
class Bank:
    """A bank as read from its file: the manifest, the result rows and their histories (arrow tables)."""

    path: Path
    manifest: dict[str, Any]
    runs: pa.Table  # typed as layout.result_schema()
    history: pa.Table

    @property
    def study(self) -> str:
        return str(self.manifest["study"])

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return dict(self.manifest["tasks"])

    def archs(self) -> dict[int, Arch]:
        """arch_id (in the exporting study) -> Arch."""
        return {
            int(a["arch_id"]): Arch.from_dict({k: v for k, v in a.items() if k != "arch_id"})
            for a in self.manifest["architectures"]
        }


# ---------------------------------------------------------------------------------------------- export
@dataclass(frozen=True)
class Exported:
    path: Path
    runs: dict[str, int]  # task -> runs exported
    architectures: int
    damaged: list[tuple[Path, str]]

    def summary(self) -> str:
        per_task = ", ".join(f"{t} {n}" for t, n in self.runs.items())
        return (
            f"exported {sum(self.runs.values())} finished runs ({per_task}) of {self.architectures} "
            f"architectures -> {self.path}"
        )


def export_bank(
    study: Study,
    out: str | Path,
    *,
    tasks: Sequence[str] | None = None,
    plan: pd.DataFrame | None = None,
    say: Callable[[str], None] = print,
) -> Exported:
    """Write the finished runs of `tasks` (default: every task) of the study's current plan to `out`."""
    names = list(study.tasks) if tasks is None else list(dict.fromkeys(tasks))
    unknown = [t for t in names if t not in study.tasks]
    if unknown:
        raise BankError(
            f"no task {', '.join(map(repr, unknown))} in study {study.name!r}; "
            f"its tasks: {', '.join(study.tasks)}"
        )
    plan = current_plan(study) if plan is None else plan
    archs = layout.read_architectures(study)  # read as plan.plan_task reads them, so the keys agree
    by_id = arch_table(archs)
    files: list[Path] = []
    for task in names:
        wanted = set(plan.loc[plan["task"] == task, "run_key"])
        files += [
            layout.result_path(study.results_dir, task, k)
            for k in sorted(wanted & layout.finished_keys(study.results_dir, task))
        ]
    runs, damaged = layout.read_tables(files)
    for path, why in damaged:
        say(f"damaged: {path} cannot be read ({why}); not exported (the next launch trains it again)")
    if runs.num_rows == 0:
        raise BankError(
            f"study {study.name!r} has no finished runs of {', '.join(names)} to export; train them first: "
            f"python -m pipeline launch --study {layout.study_argument(study)}"
        )
    runs = _as_results(runs).sort_by([("task", "ascending"), ("arch_id", "ascending"), ("seed", "ascending")])
    keys = runs.column("run_key").to_pylist()
    histories = [
        layout.history_path(study.results_dir, t, k)
        for t, k in zip(runs.column("task").to_pylist(), keys, strict=True)
    ]
    history, _ = layout.read_tables([h for h in histories if h.is_file()])
    counts = Counter(runs.column("task").to_pylist())
    used = sorted(set(runs.column("arch_id").to_pylist()))
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "key_version": KEY_VERSION,
        "written_by": version(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "study": study.name,
        "space": layout.space_record(study),
        "runs": runs.num_rows,
        "tasks": {t: _task_record(study, study.tasks[t], counts[t]) for t in names if counts[t]},
        "architectures": [{"arch_id": int(a), **by_id[int(a)].to_dict()} for a in used],
    }
    path = fsio.write_with(out, lambda tmp: _write_tar(tmp, manifest, runs, history))
    return Exported(path, {t: counts[t] for t in names if counts[t]}, len(used), damaged)


def _task_record(study: Study, task: Task, runs: int) -> dict[str, Any]:
    identity = task_identity(study, task)
    return {"recipe": dataclasses.asdict(task.recipe), "identity": dataclasses.asdict(identity), "runs": runs}


def _as_results(table: pa.Table) -> pa.Table:
    """`table` with exactly the result columns and types (a column an older file lacks is null)."""
    schema = layout.result_schema()
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def _write_tar(path: Path, manifest: dict[str, Any], runs: pa.Table, history: pa.Table) -> None:
    members = {
        MANIFEST: json.dumps(manifest, indent=1, sort_keys=True).encode(),
        RUNS: _parquet_bytes(runs),
        HISTORY: _parquet_bytes(history),
    }
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(datetime.now().timestamp()), 0o644
            tar.addfile(info, io.BytesIO(data))


# ---------------------------------------------------------------------------------------------- read
def read_bank(path: str | Path) -> Bank:
    """Read and check a bank file; one BankError for a missing, foreign, damaged or newer-version file."""
    path = Path(path)
    fix = "export one with: python -m pipeline bank export --study X --out FILE"
    if not path.is_file():
        raise BankError(f"no bank file {path}; {fix}")
    try:
        with tarfile.open(path, "r:*") as tar:
            found = {m.name: m for m in tar.getmembers() if m.isfile()}
            missing = [n for n in (MANIFEST, RUNS, HISTORY) if n not in found]
            if missing:
                raise BankError(f"{path} is not a result bank (it lacks {', '.join(missing)}); {fix}")
            data = {n: tar.extractfile(found[n]).read() for n in (MANIFEST, RUNS, HISTORY)}  # type: ignore[union-attr]
    except (tarfile.TarError, EOFError):
        raise BankError(f"{path} is not a result bank (not a readable tar file); {fix}") from None
    except OSError as error:
        raise BankError(f"cannot read {path} ({error.strerror or error}); {fix}") from None
    try:
        manifest = json.loads(data[MANIFEST])
    except ValueError as error:
        raise BankError(
            f"{path} is damaged ({MANIFEST} is not valid JSON: {_one_line(error)}); {fix}"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BankError(f"{path} is not a result bank ({MANIFEST} does not say format {FORMAT!r}); {fix}")
    if manifest.get("version") != VERSION:
        raise BankError(
            f"{path} is a version-{manifest.get('version')} bank; this archcorr reads version {VERSION} "
            f"({version()}): use the archcorr that wrote it, or export the bank again"
        )
    if manifest.get("key_version") != KEY_VERSION:
        raise BankError(
            f"{path} holds run keys of version {manifest.get('key_version')}; this archcorr computes version "
            f"{KEY_VERSION}: export the bank again with this version"
        )
    tables = {}
    for name in (RUNS, HISTORY):
        try:
            tables[name] = pq.read_table(pa.BufferReader(data[name]))
        except Exception as error:
            raise BankError(f"{path} is damaged ({name}: {_one_line(error)}); export it again") from None
    try:
        bank = Bank(path, manifest, _as_results(tables[RUNS]), tables[HISTORY])
        _check_consistent(bank)
    except (KeyError, TypeError, ValueError, pa.ArrowException) as error:  # ArchError is a ValueError
        raise BankError(f"{path} is damaged ({_one_line(error)}); export it again") from None
    return bank


def _one_line(error: BaseException) -> str:
    return f"{type(error).__name__}: " + " ".join(str(error).split())


def _check_consistent(bank: Bank) -> None:
    """Every row's task and architecture is recorded, counts agree, and each key is its record's key."""
    archs, tasks = bank.archs(), bank.tasks
    rows = bank.runs.select(["run_key", "task", "arch_id", "seed"]).to_pylist()
    if len(rows) != int(bank.manifest["runs"]):
        raise ValueError(f"{RUNS} has {len(rows)} rows, the manifest says {bank.manifest['runs']}")
    if len({r["run_key"] for r in rows}) != len(rows):
        raise ValueError(f"{RUNS} lists a run key twice")
    keys = {t: _record_key_parts(r) for t, r in tasks.items()}
    for row in rows:
        if row["task"] not in keys or row["arch_id"] not in archs:
            raise ValueError(f"run {row['run_key']} names a task or architecture the manifest lacks")
        task, identity = keys[row["task"]]
        if run_key(archs[row["arch_id"]], task, identity, row["seed"]) != row["run_key"]:
            raise ValueError(f"run {row['run_key']}'s key does not match its architecture, task and seed")


def _record_key_parts(record: dict[str, Any]) -> tuple[Task, TaskIdentity]:
    identity = TaskIdentity(**record["identity"])
    return Task(name="bank", dataset=identity.dataset, recipe=Recipe(**record["recipe"])), identity


# ---------------------------------------------------------------------------------------------- import
@dataclass
class TaskOutcome:
    """What became of one bank task's runs in the receiving study."""

    used: int = 0
    had: int = 0  # in the plan, but the study already has a result file there (kept)
    unused: Counter = field(default_factory=Counter)  # reason -> runs


@dataclass
class Imported:
    bank: Bank
    study: Study
    dry_run: bool
    outcomes: dict[str, TaskOutcome]
    uncovered: list[str]  # tasks of the study the bank has no runs of
    notes: list[str] = field(default_factory=list)

    @property
    def used(self) -> int:
        return sum(o.used for o in self.outcomes.values())

    def lines(self) -> list[str]:
        bank = self.bank
        out = [
            f"bank {bank.path}: {bank.runs.num_rows} runs of study {bank.study!r} "
            f"(tasks {', '.join(bank.tasks)})"
        ]
        verb = "to import" if self.dry_run else "imported"
        width = max((len(t) for t in self.outcomes), default=0)
        for task, o in self.outcomes.items():
            parts = [f"{o.used} {verb}"]
            if o.had:
                parts.append(f"{o.had} already had a result there (kept, never overwritten)")
            parts += [f"{n} not used: {why}" for why, n in o.unused.most_common()]
            out.append(f"  {task:<{width}}  " + "; ".join(parts))
        out += [f"  note: {n}" for n in self.notes]
        name, arg = self.study.name, layout.study_argument(self.study)
        if self.uncovered:
            out.append(
                f"  not in the bank: {', '.join(self.uncovered)} (python -m pipeline launch --study "
                f"{arg} trains them)"
            )
        if self.dry_run:
            out.append(f"dry run: {self.used} runs would be imported into study {name!r}; nothing written")
        elif self.used:
            out.append(
                f"{self.used} runs imported into study {name!r} ({self.study.results_dir}); "
                f"python -m pipeline collect --study {arg} includes them"
            )
        else:
            out.append(f"nothing imported into study {name!r}")
        return out


def import_bank(
    path: str | Path, study: Study, *, dry_run: bool = False, plan: pd.DataFrame | None = None
) -> Imported:
    """Count the bank's runs whose key is in the study's current plan as finished there (see the module
    docstring); `dry_run` only reports. Never overwrites a result file the study already has."""
    bank = read_bank(path)
    provided = _identities_without_data(bank, study)
    plan = current_plan(study, provided) if plan is None else plan
    archs = layout.read_architectures(study)
    sample = {arch: arch_id for arch_id, arch in arch_table(archs).items()}
    in_plan = {
        (t, k): (int(a), int(s))
        for t, k, a, s in zip(plan["task"], plan["run_key"], plan["arch_id"], plan["seed"], strict=True)
    }
    bank_archs = bank.archs()
    rows = bank.runs.to_pylist()
    writes: list[tuple[dict[str, Any], int]] = []
    outcomes: dict[str, TaskOutcome] = {}
    for name, record in bank.tasks.items():
        outcome = outcomes[name] = TaskOutcome()
        mine = [r for r in rows if r["task"] == name]
        mismatch = _task_mismatch(study, name, record, provided.get(name))
        if mismatch:
            outcome.unused[mismatch] += len(mine)
            continue
        for row in mine:
            place = in_plan.get((name, row["run_key"]))
            if place is None:
                arch = bank_archs[row["arch_id"]]
                why = (
                    f"architecture not in the sample of study {study.name!r}"
                    if arch not in sample
                    else f"seed {row['seed']} not in the plan of study {study.name!r}"
                )
                outcome.unused[why] += 1
            elif layout.result_path(study.results_dir, name, row["run_key"]).exists():
                outcome.had += 1
            else:
                outcome.used += 1
                writes.append((row, place[0]))
    notes = []
    if bank.manifest.get("space") != layout.space_record(study):
        notes.append(
            f"the bank's architectures come from another space than study {study.name!r}'s; "
            "only the architectures both samples share can be used"
        )
    uncovered = [t for t in study.tasks if t not in bank.tasks]
    result = Imported(bank, study, dry_run, outcomes, uncovered, notes)
    if dry_run or not writes:
        return result
    histories = _history_rows(bank.history)
    with jobs.study_lock(study.results_dir, what=f"bank import into study {study.name!r}"):
        used = {row["task"] for row, _ in writes}
        record_identities(
            study, {t: i for t, i in provided.items() if t in used}, source=str(Path(path).resolve())
        )
        for row, arch_id in writes:
            if layout.result_path(study.results_dir, row["task"], row["run_key"]).exists():
                continue  # trained by the study since the plan was read: its own result wins
            layout.write_result(
                study.results_dir, row["task"], {**row, "arch_id": arch_id}, histories.get(row["run_key"], [])
            )
    return result


def _identities_without_data(bank: Bank, study: Study) -> dict[str, TaskIdentity]:
    """The bank's identities of the study's tasks whose data is not here, where dataset and variant agree:
    they stand in for the data (recorded in results_dir/identities.json once runs of them are imported)."""
    provided = {}
    for name, record in bank.tasks.items():
        task = study.tasks.get(name)
        identity = TaskIdentity(**record["identity"])
        if (
            task is not None
            and not has_store(study, task)
            and (identity.dataset, identity.variant_json) == (task.dataset, task.variant_json)
        ):
            provided[name] = identity
    return provided


def _task_mismatch(
    study: Study, name: str, record: dict[str, Any], provided: TaskIdentity | None = None
) -> str | None:
    """Why no run of a bank task can be in the study's plan (None: its task, recipe and data match).
    `provided`: the identity standing in for the task's data when that is not here."""
    if name not in study.tasks:
        return f"task {name!r} is not in study {study.name!r} (its tasks: {', '.join(study.tasks)})"
    task = study.tasks[name]
    problems = []
    theirs, ours = recipe_payload(Recipe(**record["recipe"])), recipe_payload(task.recipe)
    names = list(theirs) + [k for k in ours if k not in theirs]
    differ = [f"{k} {theirs.get(k)} vs {ours.get(k)}" for k in names if theirs.get(k) != ours.get(k)]
    if differ:
        problems.append("recipe differs: " + ", ".join(differ))
    bank_id, own_id = TaskIdentity(**record["identity"]), provided or task_identity(study, task)
    if bank_id.dataset != own_id.dataset:
        problems.append(f"dataset differs: {bank_id.dataset} vs {own_id.dataset}")
    elif bank_id.variant_json != own_id.variant_json:
        problems.append(f"dataset variant differs: {bank_id.variant_json} vs {own_id.variant_json}")
    elif bank_id.fingerprint != own_id.fingerprint or bank_id.num_classes != own_id.num_classes:
        problems.append(
            f"dataset fingerprint differs: {bank_id.fingerprint} vs {own_id.fingerprint} (another copy or "
            "version of the store: prepare it from the same files, or copy the exporter's store)"
        )
    return "; ".join(problems) or None


def _history_rows(history: pa.Table) -> dict[str, list[dict[str, Any]]]:
    """run_key -> that run's history rows (without run_key), in file order."""
    out: dict[str, list[dict[str, Any]]] = {}
    if "run_key" not in history.column_names:
        return out
    for row in history.to_pylist():
        out.setdefault(row.pop("run_key"), []).append(row)
    return out


# ---------------------------------------------------------------------------------------------- cli
def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m pipeline bank", description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="action", required=True, metavar="{export,import}")
    export = actions.add_parser(
        "export",
        help="write a study's finished runs to one bank file",
        description="Write the current plan's finished runs of a study to one file.",
    )
    add_study_arguments(export)
    export.add_argument(
        "--tasks", type=validate.name_list, help="comma-separated tasks to export (default: all)"
    )
    export.add_argument("--out", required=True, help="the bank file to write (a tar)")
    take = actions.add_parser(
        "import",
        help="count a bank's runs as finished in a study where their keys match",
        description="Count a bank's runs as finished in a study where their run keys are "
        "in its plan; never overwrites the study's own results.",
    )
    take.add_argument("bank", help="a bank file written by `python -m pipeline bank export`")
    add_study_arguments(take)
    take.add_argument("--dry-run", action="store_true", help="report what would be imported; write nothing")
    args = parser.parse_args(argv)
    study = load_study(args.study, data_root=args.data_root, results_dir=args.results_dir)
    if args.action == "export":
        print(export_bank(study, args.out, tasks=args.tasks).summary())
    else:
        print("\n".join(import_bank(args.bank, study, dry_run=args.dry_run).lines()))
    return 0
