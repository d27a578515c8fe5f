"""Checks shared by every file and flag the pipeline reads: names that become paths, numbers with ranges.

Validators append a problem sentence to a list instead of raising, so that a file's every problem is
reported at once; argparse `type=` functions raise `argparse.ArgumentTypeError` with the same sentences.
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Any

# Names become folder and file names (data/<dataset>/, runs/<task>/): one path component, never . or ..
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
NAME_RULE = "letters, digits and . _ @ + -, starting with a letter or digit"


def name_problem(value: Any) -> str | None:
    """Why `value` cannot be a dataset/task/study name (None when it can)."""
    if not isinstance(value, str) or not value:
        return f"must be a non-empty string, got {value!r}"
    if not NAME_PATTERN.match(value) or value in (".", ".."):
        return f"{value!r} is not a usable name ({NAME_RULE}; it becomes a folder name)"
    return None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def range_problem(
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> str | None:
    """Why a number is outside [low, high] (open ends where asked), or None; NaN/inf are never in range."""
    if not is_number(value):
        return f"must be a finite number, got {value!r}"
    if low is not None and (value < low or (low_open and value == low)):
        return f"must be {'>' if low_open else '>='} {low:g}, got {value!r}"
    if high is not None and (value > high or (high_open and value == high)):
        return f"must be {'<' if high_open else '<='} {high:g}, got {value!r}"
    return None


# ---------------------------------------------------------------------------------------------- argparse
def _argtype(convert: Any, *, low: float | None = None, low_open: bool = False, what: str) -> Any:
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        problem = range_problem(value, low=low, low_open=low_open)
        if problem:
            raise argparse.ArgumentTypeError(f"{text!r}: {problem.replace(f', got {value!r}', '')}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


def bounded_float(low: float, high: float, *, high_closed: bool = False, what: str) -> Any:
    """An argparse type: a float in the open interval (low, high), or (low, high] with `high_closed`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if range_problem(value, low=low, high=high, low_open=True, high_open=not high_closed):
            interval = f"({low:g}, {high:g}{']' if high_closed else ')'}"
            raise argparse.ArgumentTypeError(f"{text!r} must lie in {interval} ({what})")
        return value

    parse.__name__ = what
    return parse


def name_list(text: str) -> list[str]:
    """An argparse type: comma-separated names (`--tasks a,b`), at least one, blanks dropped."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r} names no task; give names separated by commas: a,b")
    return names


positive_int = _argtype(int, low=1, what="a positive integer")
non_negative_int = _argtype(int, low=0, what="a non-negative integer")
positive_float = _argtype(float, low=0, low_open=True, what="a positive number")
finite_float = _argtype(float, what="a finite number")
