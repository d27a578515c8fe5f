"""Files the pipeline writes and reads: one atomic-write helper, one reader per format, disk-fault errors.

Every file another process may read is written to a dot-prefixed temporary sibling (so no `*.parquet` or
`*.json` listing ever sees it), flushed to disk, and renamed over the final name; on any failure the
temporary file is removed and nothing at the final name changes (submitit's `temporary_save_path` is the
model). A full or failing disk (ENOSPC, EDQUOT, EIO, EROFS) becomes one `DiskError` naming the file, so
the CLI prints one line instead of a traceback, and whatever was finished before stays as it was.

Readers name the file and the fix when a file cannot be read (`UnreadableFileError`), because a damaged
table must never pass for an empty or finished one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError

DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})
PARQUET_MAGIC = b"PAR1"


class DiskError(PipelineError):
    """The disk refused a write (full, over quota, read-only or failing); nothing finished was changed."""


class UnreadableFileError(PipelineError):
    """A file the pipeline needs exists but cannot be read or parsed."""


def disk_error(error: OSError, path: str | Path, doing: str = "writing") -> DiskError:
    """The one message for a disk fault while `doing` something to `path`."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    fix = {
        errno.ENOSPC: "free some space (or point the output elsewhere) and run the same command again",
        errno.EDQUOT: "free some of your quota and run the same command again",
        errno.EROFS: "the file system is read-only; choose a writable folder",
    }.get(error.errno or 0, "check the disk and run the same command again")
    return DiskError(f"{reason} while {doing} {path}; {fix} (finished work is kept)")


def is_disk_error(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in DISK_ERRNOS


def temp_name(path: Path) -> Path:
    """A sibling temp name no `*.parquet`/`*.json` listing matches (dot prefix, pid suffix)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | Path, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temp path to write; on success it is fsynced and renamed to `path`, on failure removed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise (disk_error(error, path) if is_disk_error(error) else _unwritable(error, path)) from error
    tmp = temp_name(path)
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except OSError as error:
        _remove(tmp)
        if is_disk_error(error):
            raise disk_error(error, path) from error
        raise
    except BaseException:
        _remove(tmp)
        raise


def _unwritable(error: OSError, path: Path) -> PipelineError:
    return PipelineError(f"cannot create the folder of {path} ({error.strerror}); choose a writable folder")


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def write_with(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Atomically create `path` by calling `write(temp_path)`."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def write_text(text: str, path: str | Path) -> Path:
    return write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(data: Any, path: str | Path) -> Path:
    return write_text(json.dumps(data, indent=1, default=str), path)


def write_table(frame: Any, path: str | Path, *, schema: Any = None) -> Path:
    """Write a DataFrame (or a pyarrow Table) as parquet, atomically; `schema` types an empty frame."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = (
        frame
        if isinstance(frame, pa.Table)
        else pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    )
    return write_with(path, lambda tmp: pq.write_table(table, tmp))


def schema_of(types: dict[str, str]) -> Any:
    """A pyarrow schema from {column: arrow type name} ("int64", "string", ...): typed tables stay typed
    when empty or all null."""
    import pyarrow as pa

    return pa.schema([pa.field(name, getattr(pa, kind)()) for name, kind in types.items()])


# ---------------------------------------------------------------------------------------------- read
def read_text(path: str | Path, *, fix: str = "") -> str:
    """UTF-8 text of a file; UnreadableFileError naming the file (and `fix`) when it is not."""
    path = Path(path)
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableFileError(
            f"{path} is not UTF-8 text (byte {error.start}: {error.reason}); save it as UTF-8" + _then(fix)
        ) from None
    except OSError as error:
        raise UnreadableFileError(f"cannot read {path} ({error.strerror})" + _then(fix)) from None


def read_json(path: str | Path, *, fix: str = "") -> Any:
    """Parsed JSON of a file; UnreadableFileError naming the file and `fix` when it is damaged."""
    text = read_text(path, fix=fix)
    try:
        return json.loads(text)
    except ValueError as error:
        raise UnreadableFileError(f"{path} is not valid JSON ({error})" + _then(fix)) from None


def read_json_or(path: str | Path, default: Any = None) -> Any:
    """Parsed JSON, or `default` when the file is absent or damaged (markers that may vanish under us)."""
    try:
        return read_json(path)
    except PipelineError:
        return default


def read_table(path: str | Path, *, fix: str = "", columns: list[str] | None = None) -> Any:
    """A parquet file as a DataFrame; UnreadableFileError naming the file and `fix` when it is damaged."""
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        return pq.read_table(path, columns=columns).to_pandas()
    except FileNotFoundError:
        raise UnreadableFileError(f"{path} does not exist" + _then(fix)) from None
    except Exception as error:  # pyarrow raises several types (ArrowInvalid, OSError) for a damaged file
        raise UnreadableFileError(f"{path} is not a readable parquet file ({error})" + _then(fix)) from None


def looks_complete_parquet(path: str | Path) -> bool:
    """True when a parquet file starts and ends with its magic bytes: a cheap check (two small reads) that
    catches zero-byte and truncated files without parsing them."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
            size = handle.seek(0, os.SEEK_END)
            if size < 12:
                return False
            handle.seek(size - 4)
            return head == PARQUET_MAGIC and handle.read(4) == PARQUET_MAGIC
    except OSError:
        return False


def last_line(text: str) -> str:
    """The last non-blank line of a text, stripped (the message of a traceback)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _then(fix: str) -> str:
    return f"; {fix}" if fix else ""


# ---------------------------------------------------------------------------------------------- space
def free_bytes(path: str | Path) -> int:
    """Bytes available to this user on the file system holding `path` (its nearest existing parent)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def require_space(path: str | Path, needed: int, what: str, *, margin: float = 1.05) -> None:
    """Raise DiskError before writing when `path`'s file system has less than `needed` bytes (+5 %)."""
    have = free_bytes(path)
    if have < needed * margin:
        raise DiskError(
            f"{what} needs {_size(needed * margin)} under {path}, but only {_size(have)} is free; free some "
            "space or choose another folder, then run the same command again"
        )


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


# ---------------------------------------------------------------------------------------------- yaml
def _yaml_loader() -> type:
    """A SafeLoader that refuses duplicate keys and reads 5e-5 as a number (YAML 1.2 floats).

    PyYAML follows YAML 1.1, where a float needs a dot (`5.0e-5`) and `5e-5` is the string '5e-5'; people
    write the latter, and a learning rate must not silently become text. A duplicate key would make the
    second value win unseen.
    """
    import re

    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.YAMLError(f"duplicate key {key!r} on lines {seen[key]} and {line}")
            seen[key] = line
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    float_12 = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)$")
    StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", float_12, list("-+0123456789."))
    return StrictLoader


_LOADER: type | None = None


def parse_yaml(text: str, *, where: str) -> Any:
    """Parse YAML text strictly (see `_yaml_loader`); UnreadableFileError naming `where` on any problem."""
    import yaml

    global _LOADER
    _LOADER = _LOADER or _yaml_loader()
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        detail = " ".join(str(error).split())
        raise UnreadableFileError(f"{where}: not valid YAML ({detail})") from None


def read_yaml(path: str | Path, *, fix: str = "") -> Any:
    """A YAML file parsed strictly; one UnreadableFileError for unreadable, non-UTF-8 or malformed text."""
    return parse_yaml(read_text(path, fix=fix), where=str(path))


def require_writable(folder: str | Path, *, option: str = "") -> Path:
    """Create `folder` if needed and check a file can be written in it; one clear error otherwise."""
    folder = Path(folder)
    hint = f"; choose another {option}" if option else "; choose a writable folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        if is_disk_error(error) and error.errno != errno.EROFS:
            raise disk_error(error, folder) from error
        raise PipelineError(f"cannot write under {folder} ({error.strerror or error}){hint}") from None
    return folder


def allocate(path: Path, size: int) -> None:
    """Reserve `size` bytes for `path` on disk now (posix_fallocate), so that later writes through a
    memory map cannot fail with SIGBUS on a full disk; ENOSPC here is a DiskError."""
    if not hasattr(os, "posix_fallocate"):
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as error:
        if error.errno in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system without fallocate
            return
        raise disk_error(error, path) if is_disk_error(error) else error from None
    finally:
        os.close(fd)
