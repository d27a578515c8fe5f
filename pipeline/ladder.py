"""The proxy ladder: cheaper versions of one task, one factor at a time, generated as ordinary study tasks.

A study's `ladder:` section names a task and the values to try along each factor:

    ladder:
      of: imagenet                                  # the task to make cheaper (a key of `tasks:`)
      resolution: [16, 32, 64]                      # images box-downsampled to s px, crop s
      epochs: [1, 3]                                # fewer epochs
      fraction: [0.1, 0.25]                         # a seeded, stratified share of the training split
      classes: [imagenet_x/imagenet-10.txt]         # a class subset (an ImageNet-X list)
      combine: [{resolution: 32, epochs: 3}]        # several factors at once, one task per mapping

(a list of such mappings ladders several tasks). `expand_ladder` turns it into raw task dicts in the schema
of `tasks:` entries, each a copy of the parent's `dataset`, `variant` and `recipe` with one change per factor:

    resolution s  ->  variant.resolution = s, recipe.resolution = s   (pipeline.data.variants reads the
                      derived s-px store; the crop is the new size)
    epochs e      ->  recipe.epochs = e
    fraction f    ->  variant.fraction = f                           (a fraction of the parent's training
                      rows: applied after its classes/caps)
    classes LIST  ->  variant.classes = LIST                         (replaces the parent's list: lists are
                      absolute)

plus `role: proxy` (the parent's `proxy:` pairing is not inherited) and `rung: {of, factor, value}` with
factor resolution|epochs|fraction|classes|combined and the value as written (a mapping for a combination),
so the analysis can tell rungs apart. Names are `<of>@r32`, `<of>@e3`, `<of>@f0.1` and `<of>@<list stem>`
(`imagenet@imagenet-10`: the class count is not known without reading the list, and this module reads
nothing), joined by `+` in the order resolution, epochs, fraction, classes for a combination
(`imagenet@r32+e3`); they use only [A-Za-z0-9._@+-].

Pure: no file is read, so a dry run of a study with a ladder costs nothing. Every problem (an unknown
factor, `of` not a task, a bad value, a name that clashes) is collected and raised as one StudyError.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

from pipeline.errors import StudyError

FACTORS = ("resolution", "epochs", "fraction", "classes")  # also the order of parts in a combined name
LADDER_KEYS = ("of", *FACTORS, "combine")
MIN_RESOLUTION = 8  # as pipeline.data.variants.MIN_RESOLUTION; C17's smallest size
NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@+-]+$")


def expand_ladder(
    ladder: Mapping[str, Any] | Sequence[Mapping[str, Any]], tasks: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The generated tasks (name -> raw task dict with a `rung` entry) of a study's `ladder:` section."""
    problems: list[str] = []
    sections = [ladder] if isinstance(ladder, Mapping) else list(ladder or [])
    if not sections:
        problems.append("ladder: must be a mapping with `of:` and at least one factor")
    generated: dict[str, dict[str, Any]] = {}
    for i, section in enumerate(sections):
        where = "ladder" if isinstance(ladder, Mapping) else f"ladder[{i}]"
        for name, task in _expand_one(where, section, tasks, problems):
            if name in tasks:
                problems.append(f"{where}: generated task {name!r} clashes with the task of that name")
            elif name in generated:
                problems.append(f"{where}: task {name!r} is generated twice (a value listed twice?)")
            else:
                generated[name] = task
    if problems:
        raise StudyError(f"ladder: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return generated


def rung_name(of: str, change: Mapping[str, Any]) -> str:
    """`imagenet@r32+e3`: the parent's name and one part per factor, in FACTORS order."""
    parts = {
        "resolution": lambda v: f"r{v}",
        "epochs": lambda v: f"e{v}",
        "fraction": lambda v: f"f{_number(v)}",
        "classes": lambda v: PurePath(str(v)).stem,
    }
    return f"{of}@" + "+".join(parts[f](change[f]) for f in FACTORS if f in change)


def _expand_one(
    where: str, section: Any, tasks: Mapping[str, Mapping[str, Any]], problems: list[str]
) -> list[tuple[str, dict[str, Any]]]:
    """(name, task) of one ladder mapping; its problems are appended to `problems`."""
    if not isinstance(section, Mapping):
        problems.append(f"{where}: must be a mapping with `of:` and factors, got {section!r}")
        return []
    known_problems = len(problems)
    unknown = [k for k in section if k not in LADDER_KEYS]
    if unknown:
        problems.append(f"{where}: unknown factor(s) {unknown} (allowed: {', '.join(LADDER_KEYS)})")
    of = section.get("of")
    parent = tasks.get(of) if isinstance(of, str) else None
    if of is None:
        problems.append(f"{where}: missing `of:` (the task to make cheaper; tasks: {', '.join(tasks)})")
    elif not isinstance(parent, Mapping):
        problems.append(f"{where}.of: {of!r} is not a task (tasks: {', '.join(tasks)})")
    crop = _parent_crop(parent) if isinstance(parent, Mapping) else None
    changes: list[tuple[str, Any, dict[str, Any]]] = []  # (factor, value as written, {factor: value})
    for factor in FACTORS:
        if factor not in section:
            continue
        values = section[factor] if isinstance(section[factor], list) else [section[factor]]
        if not values:
            problems.append(f"{where}.{factor}: lists no values")
        for value in values:
            if _check_value(f"{where}.{factor}", factor, value, crop, parent, problems):
                changes.append((factor, value, {factor: value}))
    combine = section.get("combine", [])
    if not isinstance(combine, list):
        problems.append(f"{where}.combine: must be a list of mappings, e.g. [{{resolution: 32, epochs: 3}}]")
        combine = []
    for j, combo in enumerate(combine):
        here = f"{where}.combine[{j}]"
        if not isinstance(combo, Mapping) or len(combo) < 2:
            problems.append(
                f"{here}: must map two or more factors to one value each, got {combo!r} "
                "(a single factor belongs under its own key)"
            )
            continue
        bad = [k for k in combo if k not in FACTORS]
        if bad:
            problems.append(f"{here}: unknown factor(s) {bad} (allowed: {', '.join(FACTORS)})")
            continue
        checks = [_check_value(f"{here}.{k}", k, combo[k], crop, parent, problems) for k in combo]
        if all(checks):
            value = {k: combo[k] for k in FACTORS if k in combo}
            changes.append(("combined", value, value))
    if not isinstance(parent, Mapping):
        return []
    if not changes and len(problems) == known_problems:
        problems.append(f"{where}: names no factor to vary (one of {', '.join(FACTORS)}, or combine)")
    out = []
    for factor, value, change in changes:
        name = rung_name(of, change)
        if not NAME_PATTERN.match(name):
            problems.append(f"{where}: generated name {name!r} may use only letters, digits and . _ @ + -")
            continue
        out.append((name, _rung_task(of, parent, factor, value, change)))
    return out


def _rung_task(
    of: str, parent: Mapping[str, Any], factor: str, value: Any, change: Mapping[str, Any]
) -> dict[str, Any]:
    """The parent's raw task with `change` applied, as a proxy, with its `rung` record."""
    variant = dict(copy.deepcopy(parent.get("variant")) or {})
    recipe = dict(copy.deepcopy(parent.get("recipe")) or {})
    for key, v in change.items():
        if key == "resolution":
            variant["resolution"] = recipe["resolution"] = v
        elif key == "epochs":
            recipe["epochs"] = v
        else:  # fraction, classes
            variant[key] = v
    return {
        "dataset": parent.get("dataset"),
        "variant": variant,
        "role": "proxy",
        "recipe": recipe,
        "rung": {"of": of, "factor": factor, "value": copy.deepcopy(value)},
    }


def _parent_crop(parent: Mapping[str, Any]) -> int | None:
    """The parent's training size when the study says it: its resolution variant, else its recipe crop."""
    variant = parent.get("variant") if isinstance(parent.get("variant"), Mapping) else {}
    recipe = parent.get("recipe") if isinstance(parent.get("recipe"), Mapping) else {}
    for size in (variant.get("resolution"), recipe.get("resolution")):
        if _is_int(size):
            return int(size)
    return None


def _check_value(
    where: str, factor: str, value: Any, crop: int | None, parent: Any, problems: list[str]
) -> bool:
    """True when `value` is a valid `factor` value; otherwise a problem is appended."""
    problem = None
    if factor == "resolution":
        if not _is_int(value) or value < MIN_RESOLUTION:
            problem = f"{value!r} must be an integer ≥ {MIN_RESOLUTION} (pixels)"
        elif crop is not None and value >= crop:
            problem = f"{value} must be below the parent's {crop} px"
    elif factor == "epochs":
        if not _is_int(value) or value < 1:
            problem = f"{value!r} must be a positive integer"
    elif factor == "fraction":
        if not _is_number(value) or not 0 < value <= 1:
            problem = f"{value!r} must be a number in (0, 1]"
        elif isinstance(parent, Mapping) and "fraction" in (parent.get("variant") or {}):
            problem = "the parent already has a fraction variant; a rung would replace it, not shrink it"
    elif factor == "classes" and (not isinstance(value, str) or not PurePath(value).stem):
        problem = f"{value!r} must be the path of a class list file (e.g. imagenet_x/imagenet-10.txt)"
    if problem:
        problems.append(f"{where}: {problem}")
    return problem is None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: float) -> str:
    """Shortest text of a number that reads back as the same float: 0.1 -> '0.1', 1 -> '1'."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
