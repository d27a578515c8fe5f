"""Shared command-line plumbing: one-line errors, exit codes (0 ok, 1 failed, 2 bad input), --version.

Every verb builds its parser with `ArgumentParser` (argparse, but a usage mistake raises `UsageError`
instead of printing usage and exiting), and `run_cli` turns any user error into one `error:` line:
a PipelineError or ArchError exits 2, a disk fault (full, read-only, failing) exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from pipeline.errors import PipelineError
from pipeline.fsio import DiskError, disk_error, is_disk_error


class UsageError(PipelineError):
    """A command line argparse cannot parse (unknown option, missing argument, bad value)."""


def version() -> str:
    """`archcorr <version>` of the installed distribution (or of the source tree when not installed)."""
    from importlib import metadata

    try:
        return f"archcorr {metadata.version('archcorr')}"
    except metadata.PackageNotFoundError:
        return "archcorr (not installed: running from a source tree)"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with `--version` on every command and usage errors raised as one-line UsageError."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--version", action="version", version=version())

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def add_study_arguments(parser: ArgumentParser, *, data: bool = True) -> None:
    """--study, and the --data-root/--results-dir overrides every study verb takes."""
    parser.add_argument("--study", required=True, help="study name (pipeline/studies/<name>.yaml) or path")
    if data:
        parser.add_argument("--data-root", help="where prepared datasets live (overrides the study)")
    parser.add_argument("--results-dir", help="study output folder (overrides the study)")


def is_user_error(error: BaseException) -> bool:
    """A PipelineError, or an anynet.ArchError (looked up only if anynet was imported)."""
    if isinstance(error, PipelineError):
        return True
    anynet_errors = sys.modules.get("anynet.errors")
    return anynet_errors is not None and isinstance(error, anynet_errors.ArchError)


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Call a verb's `main`, turning user errors into one line on stderr and exit code 2 (1 for a disk)."""
    try:
        code = main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if is_disk_error(error):
            error = disk_error(error, getattr(error, "filename", None) or "a file")  # type: ignore[arg-type]
        if isinstance(error, DiskError):
            print(f"error: {error}", file=sys.stderr)
            return 1
        if not is_user_error(error):
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    return int(code or 0)
