"""Load CIFAR and C17 pickles without letting them run code (STUDY.md §8).

`pickle.load` calls whatever callable a file names (`os.system`, `builtins.eval`, ...). These files only
need a dict of numpy arrays, lists, ints and bytes, so the unpickler below resolves exactly the globals
that numpy's own pickling emits (array and dtype reconstruction, scalars, the latin-1 bytes shim of
protocol-2 pickles written by Python 3) and refuses every other one before anything is called.

CIFAR's files were written by Python 2: their str keys arrive as bytes (`encoding="bytes"`) and are
decoded to str here, so callers always see `{"data": ..., "labels": ...}`.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from pipeline.errors import DatasetError

# (module, name) pairs a CIFAR / C17 pickle may reference. numpy 1.x pickles name numpy.core, 2.x numpy._core.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [
        (core, name)
        for core in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    ]
    + [(core, "_frombuffer") for core in ("numpy.core.numeric", "numpy._core.numeric")]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")]
)


class RefusedPickleError(DatasetError):
    """A pickle names a callable outside the allowed numpy/builtin types."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only `ALLOWED_GLOBALS`; any other global is refused, never imported."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise RefusedPickleError(
                f"refused to unpickle {module}.{name}: only numpy arrays, lists, numbers and strings are "
                "allowed in dataset pickles (the file may be corrupt or malicious)"
            )
        return super().find_class(module, name)


def loads(data: bytes) -> Any:
    """Unpickle bytes with the restricted unpickler (Python 2 str read as bytes)."""
    return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()


def load_dict(path: str | Path) -> dict[str, Any]:
    """Load a pickled dict (CIFAR batch, C17 file) safely; bytes keys are decoded to str."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = RestrictedUnpickler(f, encoding="bytes").load()
    except RefusedPickleError as error:
        raise RefusedPickleError(f"{path}: {error}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise DatasetError(
            f"{path} is not a readable dataset pickle ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}: expected a pickled dict, found {type(obj).__name__}")
    return {(k.decode("latin-1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def load_outcome(path: str | Path) -> Any:
    """A submitit job outcome pickle (`("success", result)` or `("error", traceback text)`), read with
    the same restricted unpickler: our workers return plain dicts and strings, so nothing else is needed."""
    from pipeline.fsio import UnreadableFileError

    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f).load()
    except RefusedPickleError:
        raise
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise UnreadableFileError(f"{path} is not a readable job outcome ({error})") from None
