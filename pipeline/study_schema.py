"""The schema of study files: every key's type, allowed values and range, and the checker that applies it.

`check_section` checks one mapping of a study against its schema and appends one sentence per problem
(unknown key with the allowed ones, wrong type, value not among the choices, out of range, unusable name),
so that `pipeline.study` can report every problem of a file at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline import validate
from pipeline.data.catalogue import METRICS

EXECUTOR_KINDS = ("slurm", "local", "debug")

# key -> (kind, required). Kinds: int, float (int accepted), bool, str, name, intlist, floatpair, strlist,
# mapping; a leading "?" accepts null.
TOP_SCHEMA = {
    "name": ("name", True),
    "description": ("?str", False),
    "data_root": ("str", False),
    "results_dir": ("str", False),
    "space": ("mapping", True),
    "reference": ("str", True),
    "recipe": ("mapping", False),
    "tasks": ("mapping", True),
    "executor": ("mapping", False),
    "seeds": ("intlist", False),
    "replicates": ("?mapping", False),
    "keep_weights": ("str", False),
    "ladder": ("?mapping", False),
    "zero_cost": ("bool", False),
}
SPACE_SCHEMA = {
    "n": ("int", True),
    "flops_mf": ("floatpair", True),
    "seed": ("int", False),
    "strides": ("intlist", False),
    "im_size": ("int", False),
    "num_classes": ("int", False),
}
RECIPE_SCHEMA = {
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
    "precise_bn_batches": ("int", False),
    "compile": ("bool", False),
}
TASK_SCHEMA = {
    "dataset": ("str", True),
    "variant": ("?mapping", False),
    "role": ("str", False),
    "proxy": ("?str", False),
    "recipe": ("mapping", False),
    "rung": ("?mapping", False),
}
EXECUTOR_SCHEMA = {
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
    "threads_per_job": ("int", False),
    "local_jobs": ("?int", False),
    "slurm": ("mapping", False),
}
REPLICATES_SCHEMA = {
    "archs": ("int", True),
    "seeds": ("intlist", True),
    "tasks": ("?strlist", False),
    "seed": ("int", False),
}
_CHOICES = {
    "recipe.metric": METRICS,
    "recipe.optimizer": ("sgd",),
    "recipe.schedule": ("cosine", "constant"),
    "recipe.schedule_unit": ("step", "epoch"),
    "executor.kind": EXECUTOR_KINDS,
}
# Ranges: key -> keyword arguments of validate.range_problem
_RANGES: dict[str, dict[str, Any]] = {
    "recipe.epochs": {"low": 1},
    "recipe.momentum": {"low": 0, "high": 1, "high_open": True},
    "recipe.lr": {"low": 0, "low_open": True},
    "recipe.lr_min": {"low": 0},
    "recipe.weight_decay": {"low": 0},
    "recipe.warmup_epochs": {"low": 0},
    "recipe.batch_size": {"low": 1},
    "recipe.eval_batch_size": {"low": 1},
    "recipe.label_smoothing": {"low": 0, "high": 1, "high_open": True},
    "recipe.resolution": {"low": 8},
    "recipe.precise_bn_batches": {"low": 0},
    "space.n": {"low": 1},
    "space.seed": {"low": 0},
    "space.im_size": {"low": 8},
    "space.num_classes": {"low": 1},
    "executor.array_parallelism": {"low": 1},
    "executor.runs_per_job": {"low": 1},
    "executor.timeout_min": {"low": 1},
    "executor.max_array_size": {"low": 1},
    "executor.max_num_timeout": {"low": 0},
    "executor.cpus_per_task": {"low": 1},
    "executor.gpus_per_node": {"low": 0},
    "executor.mem_gb": {"low": 0, "low_open": True},
    "executor.threads_per_job": {"low": 1},
    "executor.local_jobs": {"low": 1},
    "replicates.archs": {"low": 0},
    "replicates.seed": {"low": 0},
}


def _type_ok(kind: str, value: Any) -> bool:
    if kind.startswith("?"):
        return value is None or _type_ok(kind[1:], value)
    if kind == "int":
        return validate.is_int(value)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("str", "name"):
        return isinstance(value, str) and value != ""
    if kind == "mapping":
        return isinstance(value, Mapping)
    if kind == "intlist":
        return isinstance(value, list) and all(validate.is_int(v) for v in value) and len(value) > 0
    if kind == "strlist":
        return isinstance(value, list) and all(isinstance(v, str) and v for v in value) and len(value) > 0
    if kind == "floatpair":
        return isinstance(value, list) and len(value) == 2 and all(_type_ok("float", v) for v in value)
    raise AssertionError(kind)


_KIND_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a non-empty string",
    "name": "a non-empty string",
    "mapping": "a mapping",
    "intlist": "a list of integers",
    "strlist": "a list of names",
    "floatpair": "a list of two numbers [low, high]",
}


def check_section(where: str, data: Any, schema: dict, problems: list[str]) -> dict[str, Any]:
    """Check one mapping against its schema (types, choices, ranges, names); return the keys that passed."""
    if not isinstance(data, Mapping):
        problems.append(f"{where}: must be a mapping, got {type(data).__name__} {data!r}")
        return {}
    section = where.split(".")[-1] if "." in where else where
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
        choices = _CHOICES.get(f"{section}.{key}")
        if choices and value not in choices:
            problems.append(f"{where}.{key}: {value!r} is not one of {', '.join(map(str, choices))}")
            continue
        bounds = _RANGES.get(f"{section}.{key}")
        problem = validate.range_problem(value, **bounds) if bounds and value is not None else None
        if kind == "name":
            problem = validate.name_problem(value)
        if problem:
            problems.append(f"{where}.{key}: {problem}")
            continue
        good[key] = value
    for key, (_, required) in schema.items():
        if required and key not in data:
            problems.append(f"{where}: missing key {key!r}")
    return good


def problem_message(where: str, problems: list[str]) -> str:
    """One problem on one line; several as a count and one indented line each (all in one error)."""
    if len(problems) == 1:
        return f"{where}: {problems[0]}"
    return f"{where}: {len(problems)} problems:\n  " + "\n  ".join(problems)
