"""Where a study's files live under `results_dir`, which runs are finished, and reading them back.

    architectures.parquet                  the sample, with the space that made it (schema metadata)
    runs/<task>/<run_key>.parquet          one result row: its presence (complete) means the run is done
    runs/<task>/<run_key>.history.parquet  per-epoch history of that run
    runs/<task>/<run_key>.failed.json      the last failure of a run that raised (removed when it finishes)
    runs/<task>/<run_key>.claim            who is training the run now (see pipeline.jobs)
    checkpoints/<task>/<run_key>.pt        the last epoch's checkpoint of a run in progress
    weights/<task>/<run_key>.safetensors   final weights kept (study key keep_weights)

Every file is written through `pipeline.fsio` (temp + fsync + rename), so a listing never sees a
half-written file. A result that still cannot be read (zero bytes, truncated, damaged on disk) is *not*
finished: `finished_keys` leaves it out, `damaged_results` names it, and the next launch trains it again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import fsio
from pipeline.errors import StudyError
from pipeline.study import Study

ARCH_FILE = "architectures.parquet"
SPACE_KEY = b"archcorr.space"  # parquet schema metadata of architectures.parquet
HISTORY_COLUMNS = ("epoch", "train_loss", "lr", "seconds", "images")
# One result row (runs/<task>/<key>.parquet and runs.parquet): name -> arrow type. Nullable columns are
# typed, so an empty table or a null (e.g. `variant` of a whole-store task) keeps its type.
RESULT_TYPES = {
    "run_key": "string", "arch_id": "int64", "task": "string", "dataset": "string", "variant": "string",
    "seed": "int64", "epochs": "int64", "metric": "string", "error": "float64", "top1_err": "float64",
    "top5_err": "float64", "status": "string", "train_seconds": "float64", "images_per_second": "float64",
    "device": "string", "num_classes": "int64", "study": "string", "flops": "int64", "params": "int64",
    "finished_at": "string", "final_loss": "float64", "lr": "float64", "batch_size": "int64",
    "resolution": "int64", "fingerprint": "string", "epochs_done": "int64", "threads": "int64",
}  # fmt: skip
RESULT_COLUMNS = tuple(RESULT_TYPES)


def result_schema() -> Any:
    """RESULT_TYPES as a pyarrow schema."""
    return fsio.schema_of(RESULT_TYPES)


def empty_results() -> pd.DataFrame:
    """A typed, empty runs table (what collect writes before anything finished)."""
    return result_schema().empty_table().to_pandas()


# ---------------------------------------------------------------------------------------------- paths
def runs_dir(results_dir: str | Path, task: str) -> Path:
    return Path(results_dir) / "runs" / task


def result_path(results_dir: str | Path, task: str, key: str) -> Path:
    return runs_dir(results_dir, task) / f"{key}.parquet"


def history_path(results_dir: str | Path, task: str, key: str) -> Path:
    return runs_dir(results_dir, task) / f"{key}.history.parquet"


def failure_path(results_dir: str | Path, task: str, key: str) -> Path:
    return runs_dir(results_dir, task) / f"{key}.failed.json"


def claim_path(results_dir: str | Path, task: str, key: str) -> Path:
    return runs_dir(results_dir, task) / f"{key}.claim"


def checkpoint_path(results_dir: str | Path, task: str, key: str) -> Path:
    return Path(results_dir) / "checkpoints" / task / f"{key}.pt"


def weights_path(results_dir: str | Path, task: str, key: str) -> Path:
    return Path(results_dir) / "weights" / task / f"{key}.safetensors"


def _is_result_name(name: str) -> bool:
    return name.endswith(".parquet") and not name.startswith(".") and not name.endswith(".history.parquet")


def listed_results(results_dir: str | Path, task: str) -> dict[str, Path]:
    """{run_key: path} of every result file name of a task (complete or not)."""
    folder = runs_dir(results_dir, task)
    try:
        with os.scandir(folder) as entries:
            return {e.name[: -len(".parquet")]: Path(e.path) for e in entries if _is_result_name(e.name)}
    except FileNotFoundError:
        return {}


def scan_results(results_dir: str | Path, task: str) -> tuple[set[str], list[Path]]:
    """(keys whose result file is complete, result files that are not) of a task, in one pass: two small
    reads per file (its parquet magic bytes at both ends)."""
    done, damaged = set(), []
    for key, path in listed_results(results_dir, task).items():
        if fsio.looks_complete_parquet(path):
            done.add(key)
        else:
            damaged.append(path)
    return done, sorted(damaged)


def finished_keys(results_dir: str | Path, task: str) -> set[str]:
    """Keys of a task whose result file is complete (status ok or diverged)."""
    return scan_results(results_dir, task)[0]


def damaged_results(results_dir: str | Path, task: str) -> list[Path]:
    """Result files of a task that exist but are not complete parquet files (trained again by launch)."""
    return scan_results(results_dir, task)[1]


def is_finished(results_dir: str | Path, task: str, key: str) -> bool:
    """Whether one run's result file is complete (one file read, not the task's whole folder)."""
    return fsio.looks_complete_parquet(result_path(results_dir, task, key))


def read_tables(files: Sequence[Path]) -> tuple[Any, list[tuple[Path, str]]]:
    """Concatenate one-row result (or history) parquet files as one arrow table (schema metadata dropped);
    (table, [(damaged file, why)]): a file that fails to parse is reported, never dropped or half-read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables, damaged = [], []
    for path in files:
        try:  # pyarrow directly: ~9x faster than pandas per file
            tables.append(pq.ParquetFile(path).read().replace_schema_metadata(None))
        except Exception as error:  # ArrowInvalid, OSError, ...: the file is damaged
            damaged.append((Path(path), " ".join(f"{type(error).__name__}: {error}".split())))
    if not tables:
        return pa.table({}), damaged
    return pa.concat_tables(tables, promote_options="default"), damaged


def read_rows(files: Sequence[Path]) -> tuple[pd.DataFrame, list[tuple[Path, str]]]:
    """`read_tables` as a DataFrame (empty, without columns, when no file could be read)."""
    table, damaged = read_tables(files)
    return (table.to_pandas() if table.num_columns else pd.DataFrame()), damaged


def write_result(
    results_dir: str | Path, task: str, row: dict[str, Any], history: list[dict[str, Any]]
) -> Path:
    """History first, then the row (its presence means finished), then drop the run's leftovers."""
    key = row["run_key"]
    hist = pd.DataFrame(history, columns=list(HISTORY_COLUMNS))
    hist.insert(0, "run_key", key)
    fsio.write_table(hist, history_path(results_dir, task, key))
    frame = pd.DataFrame([row], columns=list(RESULT_COLUMNS))
    path = fsio.write_table(frame, result_path(results_dir, task, key), schema=result_schema())
    for leftover in (checkpoint_path(results_dir, task, key), failure_path(results_dir, task, key)):
        leftover.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------------------------------- archs
def space_record(study: Study) -> dict[str, Any]:
    """What made architectures.parquet: the study's space and the sampler's version."""
    from anynet.sampler import SAMPLER_VERSION

    space = study.space
    return {
        "n": space.n, "seed": space.seed, "flops_mf": [float(x) for x in space.flops_mf],
        "strides": [int(s) for s in space.strides], "im_size": space.im_size,
        "num_classes": space.num_classes, "sampler_version": SAMPLER_VERSION,
    }  # fmt: skip


def read_space(path: str | Path) -> dict[str, Any] | None:
    """The space recorded in an architectures.parquet (None for a file written before spaces were kept)."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except Exception as error:
        raise fsio.UnreadableFileError(
            f"{path} is not a readable parquet file ({error}); run: python -m pipeline sample --force ..."
        ) from None
    raw = metadata.get(SPACE_KEY)
    return json.loads(raw) if raw else None


def sample_command(study: Study, *, force: bool = False) -> str:
    return f"python -m pipeline sample --study {study_argument(study)}" + (" --force" if force else "")


def study_argument(study: Study) -> str:
    """How to name this study on a command line so the command works as printed."""
    from pipeline.study import STUDIES_DIR

    source = study.source
    if source is None or Path(source).resolve().parent == STUDIES_DIR.resolve():
        return study.name
    return str(source)


def check_space(study: Study, path: Path) -> None:
    """Refuse an architectures.parquet sampled from another space than the study's (or not recorded)."""
    recorded, wanted = read_space(path), space_record(study)
    if recorded == wanted:
        return
    if recorded is None:
        what = "does not record the space it was sampled from (written by an older version)"
    else:
        diffs = [f"{k} {recorded.get(k)!r} -> {v!r}" for k, v in wanted.items() if recorded.get(k) != v]
        what = f"was sampled from another space than the study's ({'; '.join(diffs)})"
    raise StudyError(
        f"{path} {what}; re-sample with: {sample_command(study, force=True)} (finished runs stay on disk and "
        "count again wherever an architecture is sampled again), or give the study another results_dir"
    )


def read_architectures(study: Study) -> pd.DataFrame:
    """architectures.parquet of the study (checked against its space), ordered by arch_id."""
    path = Path(study.results_dir) / ARCH_FILE
    if not path.is_file():
        raise StudyError(f"no architectures at {path}; run: {sample_command(study)}")
    check_space(study, path)
    frame = fsio.read_table(path, fix=f"re-sample with: {sample_command(study, force=True)}")
    return frame.sort_values("arch_id").reset_index(drop=True)


def tasks_on_disk(results_dir: str | Path) -> list[str]:
    root = Path(results_dir) / "runs"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
