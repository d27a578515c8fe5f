"""`Arch`: one architecture of the AnyNetX design space (R20 §3, T22 §3), frozen and validated.

Four stages, each with a depth d (blocks), a width w (output channels), a bottleneck ratio b (the 3×3 group
conv runs at w_b = w / b channels) and a group width g (channels per group of that conv). `strides` are the
first block's stride per stage: T22 uses (1, 2, 2, 2), pycls RegNets (2, 2, 2, 2).

The limits below are the space's (R20 §3.2). Widths are only required to be positive, at most `MAX_WIDTH`
and divisible by b with w / b divisible by g: the group-compatibility adjustment (`anynet.adjust`) moves
drawn multiples of 8 to widths such as 68 or 189, which are still in the space.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from typing import Any

from anynet.errors import ArchError

NUM_STAGES = 4
MAX_DEPTH = 16
MAX_WIDTH = 1024
WIDTH_QUANTUM = 8  # drawn widths are multiples of 8 (before adjustment)
BOTTLENECK_RATIOS = (1, 2, 4)
MAX_GROUP_WIDTH = 32
STRIDES = (1, 2)
T22_STRIDES = (1, 2, 2, 2)
REGNET_STRIDES = (2, 2, 2, 2)

_STAGE_FIELDS = ("depths", "widths", "bottleneck_ratios", "group_widths", "strides")


@dataclasses.dataclass(frozen=True)
class Arch:
    """One AnyNetX architecture: per-stage depths, widths, bottleneck ratios b, group widths (4 each).

    `se_ratio` > 0 adds RegNetY's squeeze-and-excitation (width round(se_ratio · block input width));
    AnyNetX has none. Lists are accepted and stored as tuples of ints; anything outside the space raises
    `ArchError` listing every problem at once.
    """

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    bottleneck_ratios: tuple[int, ...]
    group_widths: tuple[int, ...]
    se_ratio: float = 0.0
    stem_width: int = 32
    strides: tuple[int, ...] = T22_STRIDES

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in _STAGE_FIELDS:
            value = getattr(self, name)
            normalised = _as_int_tuple(value)
            if normalised is None:
                problems.append(f"{name}={value!r} must be a sequence of {NUM_STAGES} integers")
                continue
            object.__setattr__(self, name, normalised)
            if len(normalised) != NUM_STAGES:
                shown, count = list(normalised), len(normalised)
                problems.append(f"{name}={shown} has {count} stages; AnyNetX has exactly {NUM_STAGES}")
        if problems:  # shapes are wrong: per-stage checks would only repeat them
            raise ArchError(_message(problems))
        problems += _check_stages(self)
        problems += _check_scalars(self)
        if problems:
            raise ArchError(_message(problems))
        object.__setattr__(self, "stem_width", int(self.stem_width))
        object.__setattr__(self, "se_ratio", float(self.se_ratio))

    @property
    def cum_depth(self) -> int:
        """Σ d_i: total number of blocks."""
        return sum(self.depths)

    @property
    def cum_width(self) -> int:
        """Σ w_i: sum of the stage widths (T22's cumulative width)."""
        return sum(self.widths)

    def stages(self) -> list[tuple[int, int, int, int, int]]:
        """Per stage: (depth, width, bottleneck ratio, group width, stride)."""
        per_field = (self.depths, self.widths, self.bottleneck_ratios, self.group_widths, self.strides)
        return list(zip(*per_field, strict=True))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists of ints) for YAML/JSON/parquet; inverse of `from_dict`."""
        out: dict[str, Any] = {name: list(getattr(self, name)) for name in _STAGE_FIELDS}
        out["se_ratio"] = self.se_ratio
        out["stem_width"] = self.stem_width
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Arch:
        """Build from a dict as written by `to_dict`; unknown keys are refused by name."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ArchError(f"unknown Arch field(s) {unknown}; allowed: {sorted(known)}")
        missing = sorted(name for name in _STAGE_FIELDS[:4] if name not in data)
        if missing:
            raise ArchError(f"Arch dict lacks {missing}; required: {list(_STAGE_FIELDS[:4])}")
        return cls(**dict(data))

    @classmethod
    def from_row(cls, row: Any, *, default_strides: tuple[int, ...] = T22_STRIDES) -> Arch:
        """Build from one row of architectures.parquet: a dict, pandas Series or namedtuple (itertuples).

        Only the Arch fields are read; other columns (arch_id, flops, d1..g4, ...) are ignored. A missing
        or null cell (None, NaN, pandas NA) means the field's default: `default_strides` (pass the study's
        space strides), se_ratio 0.0, stem_width 32. List cells may be numpy arrays; an integral float
        stem_width (what a parquet integer column with nulls becomes in pandas) is taken as an int.
        """
        data = _row_mapping(row)
        fields = {name: data[name] for name in _STAGE_FIELDS[:4] if name in data}
        strides = data.get("strides")
        fields["strides"] = default_strides if _is_missing(strides) else strides
        for name in ("se_ratio", "stem_width"):
            if not _is_missing(data.get(name)):
                fields[name] = data[name]
        stem = fields.get("stem_width")
        if isinstance(stem, numbers.Real) and not _is_int(stem) and float(stem).is_integer():
            fields["stem_width"] = int(stem)
        return cls.from_dict(fields)


def _row_mapping(row: Any) -> Mapping[str, Any]:
    """A table row as a mapping: dicts as they are, namedtuples via `_asdict`, pandas Series via `keys`."""
    if isinstance(row, Mapping):
        return row
    if hasattr(row, "_asdict"):
        return row._asdict()
    if hasattr(row, "keys") and hasattr(row, "__getitem__"):
        return {key: row[key] for key in row.keys()}  # noqa: SIM118 - a Series iterates over values
    raise ArchError(
        f"Arch.from_row needs a row of architectures.parquet as a dict, pandas Series or namedtuple, "
        f"got {type(row).__name__}"
    )


def _is_missing(value: Any) -> bool:
    """None, NaN or pandas' NA: a null parquet cell (pandas is not imported for the check)."""
    if value is None:
        return True
    if isinstance(value, numbers.Real):
        return value != value
    return type(value).__name__ == "NAType"


def _as_int_tuple(value: Any) -> tuple[int, ...] | None:
    """`value` as a tuple of Python ints (lists, tuples, numpy arrays), or None if it is not one."""
    if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
        return None
    items = tuple(value)
    if not all(_is_int(item) for item in items):
        return None
    return tuple(int(item) for item in items)


def _is_int(value: Any) -> bool:
    return hasattr(value, "__index__") and not isinstance(value, bool)


def _check_stages(arch: Arch) -> list[str]:
    problems = []
    for i in range(NUM_STAGES):
        stage = f"stage {i + 1}"
        d, w = arch.depths[i], arch.widths[i]
        b, g, s = arch.bottleneck_ratios[i], arch.group_widths[i], arch.strides[i]
        if not 1 <= d <= MAX_DEPTH:
            problems.append(f"depths[{i}]={d} ({stage}) is outside the allowed 1..{MAX_DEPTH}")
        if not 1 <= w <= MAX_WIDTH:
            problems.append(f"widths[{i}]={w} ({stage}) is outside the allowed 1..{MAX_WIDTH}")
        if b not in BOTTLENECK_RATIOS:
            problems.append(
                f"bottleneck_ratios[{i}]={b} ({stage}) is not one of the allowed {list(BOTTLENECK_RATIOS)}"
            )
        if not 1 <= g <= MAX_GROUP_WIDTH:
            problems.append(f"group_widths[{i}]={g} ({stage}) is outside the allowed 1..{MAX_GROUP_WIDTH}")
        if s not in STRIDES:
            problems.append(f"strides[{i}]={s} ({stage}) is not one of the allowed {list(STRIDES)}")
        if w >= 1 and b in BOTTLENECK_RATIOS and w % b:
            problems.append(
                f"widths[{i}]={w} ({stage}) is not divisible by its bottleneck ratio {b}; "
                "use anynet.adjust_compatibility to make the stage consistent"
            )
        elif w >= 1 and b in BOTTLENECK_RATIOS and g >= 1 and (w // b) % g:
            problems.append(
                f"group_widths[{i}]={g} ({stage}) does not divide the bottleneck width {w}/{b}={w // b}; "
                "allowed: a divisor of the bottleneck width; use anynet.adjust_compatibility"
            )
    return problems


def _check_scalars(arch: Arch) -> list[str]:
    problems = []
    se = arch.se_ratio
    if isinstance(se, bool) or not isinstance(se, numbers.Real) or not 0.0 <= se <= 1.0:
        problems.append(f"se_ratio={se!r} is outside the allowed 0.0..1.0 (0 = no SE, RegNetY uses 0.25)")
    stem = arch.stem_width
    if not _is_int(stem) or not 1 <= int(stem) <= MAX_WIDTH:
        problems.append(f"stem_width={stem!r} is outside the allowed 1..{MAX_WIDTH}")
    return problems


def _message(problems: list[str]) -> str:
    head = "architecture outside the AnyNetX space"
    if len(problems) == 1:
        return f"{head}: {problems[0]}"
    return f"{head} ({len(problems)} problems): " + "; ".join(problems)
