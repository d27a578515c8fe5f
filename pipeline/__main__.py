"""`python -m pipeline <verb> ...`: dispatch to one module per verb, each with a `main(argv) -> int`."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from pipeline.cli import run_cli

# verb -> (module, one-line help). Modules are imported lazily so that `status` does not import torch.
VERBS: dict[str, tuple[str, str]] = {
    "sample": ("pipeline.sample", "sample architectures from the design space into architectures.parquet"),
    "prepare": ("pipeline.data.prepare", "pack a dataset from its public files into a training store"),
    "downsample": ("pipeline.data.downsample", "write downsampled ImageNet in the C17 file format"),
    "launch": ("pipeline.launch", "submit a study's missing runs (local, debug or SLURM)"),
    "status": ("pipeline.status", "done / running / pending / failed runs per task"),
    "collect": ("pipeline.collect", "gather finished run results into runs.parquet"),
    "run": ("pipeline.run", "a whole study end to end: data, sample, train, collect, report"),
    "cost": ("pipeline.cost", "GPU-hours a study will take, from image counts, epochs and flops"),
    "clean": ("pipeline.clean", "remove run files that the study's current plan no longer uses"),
    "bank": ("pipeline.bank", "export finished runs to a result bank, or import a bank into a study"),
    "plan-size": ("pipeline.plan_size", "architectures (and GPU-hours) a Spearman CI of a given width needs"),
    "zero-cost": ("pipeline.zero_cost", "zero-cost predictor scores of every architecture on every task"),
}


def usage() -> str:
    lines = ["usage: python -m pipeline <verb> [options]", "", "verbs:"]
    lines += [f"  {verb:<11} {text}" for verb, (_, text) in VERBS.items()]
    lines.append("\n`python -m pipeline <verb> --help` describes each verb's options.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(usage())
        return 0 if args else 2
    if args[0] == "--version":
        from pipeline.cli import version

        print(version())
        return 0
    verb, rest = args[0], args[1:]
    if verb not in VERBS:
        print(f"error: unknown verb {verb!r}; choose one of: {', '.join(VERBS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(VERBS[verb][0])
    return run_cli(module.main, rest)


if __name__ == "__main__":
    sys.exit(main())
