"""`python -m pipeline sample`: sample AnyNetX architectures in a flops band into architectures.parquet.

    python -m pipeline.sample --n 500 --seed 0 --out results/paper/architectures.parquet
    python -m pipeline sample --study paper        # the study's space, into its results_dir (once)

The table has one row per architecture: `arch_id` (0..n-1, in sampling order), `depths`, `widths`,
`bottleneck_ratios`, `group_widths`, `strides` (list<int> of 4 each), `flops`, `params`, `acts`
(pycls counts at the band's 224×224 input with a 1000-class head), `cum_depth` (Σd), `cum_width` (Σw), and
flat per-stage copies `d1..d4`, `w1..w4`, `b1..b4`, `g1..g4`. It is written to a temporary name and renamed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anynet import sample_archs
from anynet.sampler import Sample
from pipeline.cli import run_cli
from pipeline.errors import PipelineError

ARCH_FILE = "architectures.parquet"
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
    _check(n, seed, flops_mf, strides)
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
        raise SampleError(str(error)) from error


def _check(n: Any, seed: Any, flops_mf: Any, strides: Any) -> None:
    problems = []
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        problems.append(f"--n {n!r}: the number of architectures must be a positive integer")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        problems.append(f"--seed {seed!r}: must be a non-negative integer")
    if len(flops_mf) != 2 or not 0 <= flops_mf[0] < flops_mf[1]:
        problems.append(
            f"--flops {' '.join(map(str, flops_mf))}: needs LO HI in MF with 0 <= LO < HI, e.g. 360 400"
        )
    if len(strides) != 4 or any(s not in (1, 2) for s in strides):
        problems.append(f"--strides {' '.join(map(str, strides))}: needs 4 stage strides, each 1 or 2")
    if problems:
        raise SampleError("; ".join(problems))


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


def write_table(frame: pd.DataFrame, out: Path) -> Path:
    """Write the table to `out` atomically (a temporary file in the same folder, then a rename)."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(handle)
    except OSError as error:
        raise SampleError(f"cannot write {out}: {error.strerror or error}; choose another --out") from error
    try:
        fields = [pa.field(c, pa.list_(pa.int64()) if c in LIST_COLUMNS else pa.int64()) for c in COLUMNS]
        pq.write_table(pa.Table.from_pandas(frame, schema=pa.schema(fields), preserve_index=False), tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def sample_study(study: Any) -> Path:
    """Write `<results_dir>/architectures.parquet` from the study's space unless it exists; its path."""
    out = Path(study.results_dir) / ARCH_FILE
    if out.is_file():
        return out
    space = study.space
    if getattr(space, "max_depth", 16) != 16 or getattr(space, "max_width", 1024) != 1024:
        raise SampleError(
            f"study {getattr(study, 'name', '?')!r}: space.max_depth/max_width other than 16/1024 are not "
            "supported by the AnyNetX sampler; remove them from the study's space"
        )
    sample = _sample(
        space.n,
        space.seed,
        tuple(space.flops_mf),
        tuple(space.strides),
        getattr(space, "im_size", 224),
        getattr(space, "num_classes", 1000),
    )
    return write_table(_table(sample), out)


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline sample",
        description="Sample AnyNetX architectures in a flops band (counted at 224×224, 1000 classes).",
    )
    parser.add_argument("--study", help="a study name or YAML path: sample its space into its results_dir")
    parser.add_argument("--n", type=int, help=f"number of architectures (default {DEFAULTS['n']})")
    parser.add_argument("--seed", type=int, help=f"random seed (default {DEFAULTS['seed']})")
    parser.add_argument(
        "--flops", nargs=2, type=float, metavar=("LO", "HI"), help="band in MF (default 360 400)"
    )
    parser.add_argument(
        "--strides", nargs=4, type=int, metavar="S", help="stage strides (default 1 2 2 2, T22)"
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
        from pipeline.study import load_study

        study = load_study(args.study)
        out = Path(study.results_dir) / ARCH_FILE
        existed = out.is_file()
        sample_study(study)
        frame = pd.read_parquet(out)
        state = "already there, left as is" if existed else "written"
        print(f"{out}: {state}\n{summary(frame)}")
        return 0
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
