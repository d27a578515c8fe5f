"""Shared command-line plumbing: one-line errors and exit codes (0 ok, 1 failed, 2 bad input)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from anynet.errors import ArchError
from pipeline.errors import PipelineError

USER_ERRORS: tuple[type[Exception], ...] = (PipelineError, ArchError)


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Call a verb's `main`, turning user errors into one line on stderr and exit code 2."""
    try:
        code = main(argv)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(code or 0)
