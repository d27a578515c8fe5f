"""Shared command-line plumbing: one-line errors and exit codes (0 ok, 1 failed, 2 bad input)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from pipeline.errors import PipelineError


def is_user_error(error: BaseException) -> bool:
    """A PipelineError, or an anynet.ArchError (looked up only if anynet was imported: importing it
    loads torch and timm, which verbs like `status` never need)."""
    if isinstance(error, PipelineError):
        return True
    anynet_errors = sys.modules.get("anynet.errors")
    return anynet_errors is not None and isinstance(error, anynet_errors.ArchError)


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Call a verb's `main`, turning user errors into one line on stderr and exit code 2."""
    try:
        code = main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if not is_user_error(error):
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    return int(code or 0)
