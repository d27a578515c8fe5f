"""`python -m pipeline sample`: sample AnyNetX architectures in a flops band into architectures.parquet.

    python -m pipeline.sample --n 500 --seed 0 --out results/paper/architectures.parquet
    python -m pipeline sample --study paper        # the study's space, into its results_dir (once)

The table has one row per architecture: `arch_id` (0..n-1, in sampling order), `depths`, `widths`,
`bottleneck_ratios`, `group_widths`, `strides` (list<int> of 4 each), `flops`, `params`, `acts`
(pycls counts at the band's 224×224 input with a 1000-class head), `cum_depth` (Σd), `cum_width` (Σw), and
flat per-stage copies `d1..d4`, `w1..w4`, `b1..b4`, `g1..g4`. It is written to a temporary name and renamed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from anynet.sampler import Sample, sample_archs
from pipeline import fsio
from pipeline.cli import ArgumentParser, run_cli
from pipeline.errors import PipelineError
from pipeline.layout import ARCH_FILE, SPACE_KEY, check_space, space_record
from pipeline.study import Study, load_study
from pipeline.validate import finite_float, non_negative_int, positive_int

_STAGE_COLUMNS = {"depths": "d", "widths": "w", "bottleneck_ratios": "b", "group_widths": "g"}
LIST_COLUMNS = (*_STAGE_COLUMNS, "strides")
COLUMNS = (
    "arch_id",
    *LIST_COLUMNS,
    "flops",
    "params",
    "acts",
    "cum_depth",
    "cum_width",
    *(f"{letter}{i}" for letter in _STAGE_COLUMNS.values() for i in range(1, 5)),
)


class SampleError(PipelineError):
    """Sampling arguments that cannot give a table (bad n, empty or impossible band, unwritable output)."""


def sample_table(
    n: int,
    seed: int,
    flops_mf: tuple[float, float] = (360.0, 400.0),
    strides: Sequence[int] = (1, 2, 2, 2),
    *,
    im_size: int = 224,
    num_classes: int = 1000,
) -> pd.DataFrame:
    """n distinct in-band architectures as a table (columns in the module docstring); flops band in MF."""
    return _table(_sample(n, seed, flops_mf, strides, im_size, num_classes))


def _sample(n, seed, flops_mf, strides, im_size=224, num_classes=1000) -> Sample:
    """anynet.sample_archs with the band in MF; its argument checks become one SampleError."""
    lo, hi = flops_mf
    try:
        return sample_archs(
            n,
            seed,
            flops_range=(lo * 1e6, hi * 1e6),
            strides=tuple(strides),
            im_size=im_size,
            num_classes=num_classes,
        )
    except (ValueError, RuntimeError) as error:
        band = f"{lo:g} {hi:g}"
        raise SampleError(
            f"cannot sample --n {n} --seed {seed} --flops {band} (MF) --strides "
            f"{' '.join(map(str, strides))}: {error}"
        ) from error


def _table(sample: Sample) -> pd.DataFrame:
    n = len(sample)
    frame = pd.DataFrame({"arch_id": np.arange(n, dtype=np.int64)})
    for name in _STAGE_COLUMNS:
        frame[name] = getattr(sample, name).tolist()
    frame["strides"] = [list(sample.strides)] * n
    frame["flops"], frame["params"], frame["acts"] = sample.flops, sample.params, sample.acts
    frame["cum_depth"] = sample.depths.sum(axis=1)
    frame["cum_width"] = sample.widths.sum(axis=1)
    for name, letter in _STAGE_COLUMNS.items():
        values = getattr(sample, name)
        for i in range(4):
            frame[f"{letter}{i + 1}"] = values[:, i]
    return frame[list(COLUMNS)]


def write_table(frame: pd.DataFrame, out: Path, space: dict[str, Any] | None = None) -> Path:
    """Write the table to `out` atomically, typed, with the `space` that made it in the schema metadata."""
    fields = [pa.field(c, pa.list_(pa.int64()) if c in LIST_COLUMNS else pa.int64()) for c in COLUMNS]
    metadata = {SPACE_KEY: json.dumps(space, sort_keys=True).encode()} if space is not None else None
    table = pa.Table.from_pandas(frame, schema=pa.schema(fields, metadata=metadata), preserve_index=False)
    try:
        return fsio.write_table(table, out)
    except PipelineError:
        raise
    except OSError as error:
        raise SampleError(f"cannot write {out}: {error.strerror or error}; choose another --out") from error


def sample_study(study: Study, *, force: bool = False) -> tuple[Path, bool]:
    """Write `<results_dir>/architectures.parquet` from the study's space unless it is already there;
    (path, written). A file sampled from another space is refused (StudyError with the fix) unless `force`."""
    out = Path(study.results_dir) / ARCH_FILE
    if out.is_file() and not force:
        check_space(study, out)
        return out, False
    space = study.space
    sample = _sample(
        space.n, space.seed, tuple(space.flops_mf), tuple(space.strides), space.im_size, space.num_classes
    )
    return write_table(_table(sample), out, space_record(study)), True


def summary(frame: pd.DataFrame, sample: Sample | None = None) -> str:
    """A few lines: count, flops range, quartiles of Σd and Σw, draws and acceptance rate."""
    q_d = np.percentile(frame["cum_depth"], [25, 50, 75])
    q_w = np.percentile(frame["cum_width"], [25, 50, 75])
    lo, hi = frame["flops"].min() / 1e6, frame["flops"].max() / 1e6
    lines = [
        f"{len(frame)} architectures, flops {lo:.1f}..{hi:.1f} MF",
        "cum_depth quartiles " + " / ".join(f"{q:g}" for q in q_d),
        "cum_width quartiles " + " / ".join(f"{q:g}" for q in q_w),
    ]
    if sample is not None:
        lines.append(
            f"{sample.draws:,} draws, {sample.in_band:,} in band, {sample.accepted:,} kept "
            f"(acceptance {100 * sample.acceptance_rate:.2f}%)"
        )
    return "\n".join(lines)


def _parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m pipeline sample",
        description="Sample AnyNetX architectures in a flops band (counted at 224×224, 1000 classes).",
    )
    parser.add_argument("--study", help="a study name or YAML path: sample its space into its results_dir")
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --study: re-sample even if architectures.parquet exists (another space)",
    )
    parser.add_argument("--n", type=positive_int, help=f"number of architectures (default {DEFAULTS['n']})")
    parser.add_argument("--seed", type=non_negative_int, help=f"random seed (default {DEFAULTS['seed']})")
    parser.add_argument(
        "--flops", nargs=2, type=finite_float, metavar=("LO", "HI"), help="band in MF (default 360 400)"
    )
    parser.add_argument(
        "--strides",
        nargs=4,
        type=int,
        choices=(1, 2),
        metavar="S",
        help="stage strides (default 1 2 2 2, T22)",
    )
    parser.add_argument("--out", type=Path, help=f"output parquet or folder (default {DEFAULTS['out']})")
    return parser


DEFAULTS: dict[str, Any] = {
    "n": 500,
    "seed": 0,
    "flops": (360.0, 400.0),
    "strides": (1, 2, 2, 2),
    "out": Path("results") / ARCH_FILE,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    given = [f"--{name}" for name in DEFAULTS if getattr(args, name) is not None]
    if args.study is not None:
        if given:
            raise SampleError(
                f"--study takes n, seed, flops, strides and the output folder from the study file; "
                f"drop {' '.join(given)} or edit the study's space"
            )
        study = load_study(args.study)
        out, written = sample_study(study, force=args.force)
        frame = fsio.read_table(out)
        state = "written" if written else "already there (sampled from this space), left as is"
        print(f"{out}: {state}\n{summary(frame)}")
        return 0
    if args.force:
        raise SampleError("--force only applies with --study (without it, --out is always written)")
    opts = {name: DEFAULTS[name] if getattr(args, name) is None else getattr(args, name) for name in DEFAULTS}
    out = Path(opts["out"])
    if out.is_dir():
        out = out / ARCH_FILE
    sample = _sample(opts["n"], opts["seed"], tuple(opts["flops"]), tuple(opts["strides"]))
    frame = _table(sample)
    write_table(frame, out)
    print(f"{out}: written\n{summary(frame, sample)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
