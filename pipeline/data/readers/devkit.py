"""The ILSVRC2012 devkit: what an ILSVRC2012_ID means, and the validation ground truth.

An ILSVRC2012_ID is the number the devkit gives a synset in `data/meta.mat` (variable `synsets`, a struct
array with fields ILSVRC2012_ID, WNID, words, gloss, num_children, children, wordnet_height,
num_train_images). The classification classes are its leaves (num_children == 0), numbered 1..1000; the
other synsets (IDs above 1000) are their WordNet ancestors. Line i of
`data/ILSVRC2012_validation_ground_truth.txt` is the ILSVRC2012_ID of `ILSVRC2012_val_<i:08d>.JPEG`.
The ID order is neither sorted wnids nor alphabetical names (ID 1 is n02119789, kit fox); it is the line
order of the CLS-LOC devkit's `map_clsloc.txt`, which therefore stands in when meta.mat is absent.

Both files are read from an extracted `ILSVRC2012_devkit_t12/` or straight out of
`ILSVRC2012_devkit_t12.tar.gz` (nothing is extracted to disk).
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from pipeline.data import c17
from pipeline.errors import DatasetError

DEVKIT_DIR = "ILSVRC2012_devkit_t12"
DEVKIT_TAR = "ILSVRC2012_devkit_t12.tar.gz"
META_MAT = "meta.mat"
GROUND_TRUTH_TXT = "ILSVRC2012_validation_ground_truth.txt"
MAP_CLSLOC = c17.MAP_FILE
_WNID = re.compile(r"^n\d{8}$")
_NEEDED_FIELDS = ("ILSVRC2012_ID", "WNID", "num_children")


@dataclass(frozen=True)
class IdOrder:
    """wnids[k - 1] is the class of ILSVRC2012_ID k; `where` names the file it was read from."""

    wnids: list[str]
    where: str


def parse_meta_mat(data: bytes, where: str) -> list[str]:
    """The leaf wnids of a meta.mat in ILSVRC2012_ID order (IDs must be exactly 1..n, wnids unique)."""
    import scipy.io  # scipy is heavy; only the flat-val ImageNet layout needs it

    try:
        content = scipy.io.loadmat(io.BytesIO(data), squeeze_me=True)
    except Exception as error:  # scipy raises several types for a file that is not MATLAB
        raise DatasetError(
            f"{where} is not a readable MATLAB file ({error}); re-download the devkit"
        ) from error
    synsets = content.get("synsets")
    names = getattr(getattr(synsets, "dtype", None), "names", None) or ()
    missing = [f for f in _NEEDED_FIELDS if f not in names]
    if missing:
        raise DatasetError(
            f"{where} has no `synsets` struct array with fields {list(_NEEDED_FIELDS)} (missing {missing}); "
            "it is not the ILSVRC2012 devkit's meta.mat"
        )
    leaves: dict[int, str] = {}
    all_ids: set[int] = set()
    for row in np.atleast_1d(synsets):
        number = _integer(row["ILSVRC2012_ID"], where, "ILSVRC2012_ID")
        if number in all_ids:
            raise DatasetError(f"{where}: ILSVRC2012_ID {number} occurs twice")
        all_ids.add(number)
        if _integer(row["num_children"], where, "num_children") == 0:
            wnid = str(row["WNID"])
            if not _WNID.match(wnid):
                raise DatasetError(f"{where}: ILSVRC2012_ID {number} has WNID {wnid!r}, not n + 8 digits")
            leaves[number] = wnid
    n = len(leaves)
    if n == 0 or sorted(leaves) != list(range(1, n + 1)):
        odd = sorted(set(leaves) ^ set(range(1, n + 1)))
        raise DatasetError(
            f"{where}: the leaf synsets (num_children == 0) must have ILSVRC2012_IDs 1..{n}; "
            f"IDs out of place: {odd[:5]}"
        )
    wnids = [leaves[k] for k in range(1, n + 1)]
    _check_unique(wnids, where)
    return wnids


def parse_ground_truth(text: str, where: str) -> list[int]:
    """The ILSVRC2012_IDs of the validation images, one line each (line i = image i)."""
    ids = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            if not line.strip().isdigit():
                raise DatasetError(f"{where}:{number}: expected one ILSVRC2012_ID per line, found {line!r}")
            ids.append(int(line))
    return ids


def read_map(path: Path) -> IdOrder:
    """`map_clsloc.txt` (`wnid k name`, line k = ILSVRC2012_ID k) as an IdOrder."""
    return IdOrder(c17.load_class_map(path), str(path))


def find_id_order(folders: Sequence[Path], class_map: Path | None = None) -> IdOrder | None:
    """ID -> wnid from the first devkit in `folders` (extracted meta.mat, else the tarball), else the map.

    The map is `class_map` when given (it must then agree with a devkit found beside it: two orders
    mean a wrong label somewhere), else a `map_clsloc.txt` in one of `folders`. None when there is neither.
    """
    order = _meta_order(folders)
    given = read_map(class_map) if class_map is not None else None
    if order is not None and given is not None and given.wnids != order.wnids:
        raise DatasetError(_disagreement(order, given))
    if order is not None or given is not None:
        return order or given
    found = _first_file([(f / MAP_CLSLOC, f / DEVKIT_DIR / "data" / MAP_CLSLOC) for f in folders])
    return read_map(found) if found is not None else None


def find_ground_truth(folders: Sequence[Path]) -> tuple[list[int], str] | None:
    """The ground-truth IDs and where they came from: a loose file (in a folder or its extracted devkit's
    data/), else the member of a devkit tarball; None when there is none."""
    loose = _first_file([(folder / GROUND_TRUTH_TXT, folder / DEVKIT_DIR / "data" / GROUND_TRUTH_TXT)
                         for folder in folders])  # fmt: skip
    if loose is not None:
        return parse_ground_truth(loose.read_text(), str(loose)), str(loose)
    for tar_path in _tarballs(folders):
        data = _tar_member(tar_path, GROUND_TRUTH_TXT)
        if data is not None:
            where = f"{tar_path}:{GROUND_TRUTH_TXT}"
            return parse_ground_truth(data.decode("ascii", errors="replace"), where), where
    return None


def looked_for(folders: Sequence[Path]) -> str:
    """The sentence an error uses to say where the ID -> wnid mapping was searched."""
    where = ", ".join(dict.fromkeys(str(f) for f in folders))
    return f"{DEVKIT_DIR}/data/{META_MAT}, {DEVKIT_TAR} and {MAP_CLSLOC} were looked for in {where}"


def _meta_order(folders: Sequence[Path]) -> IdOrder | None:
    for folder in folders:
        extracted = folder / DEVKIT_DIR / "data" / META_MAT
        if extracted.is_file():
            return IdOrder(parse_meta_mat(extracted.read_bytes(), str(extracted)), str(extracted))
        tar_path = folder / DEVKIT_TAR
        if tar_path.is_file():
            data = _tar_member(tar_path, META_MAT)
            if data is None:
                raise DatasetError(f"{tar_path} has no data/{META_MAT}; re-download the ILSVRC2012 devkit")
            where = f"{tar_path}:data/{META_MAT}"
            return IdOrder(parse_meta_mat(data, where), where)
    return None


def _tar_member(tar_path: Path, name: str) -> bytes | None:
    """The bytes of the tarball's `.../data/<name>` (the devkit keeps both files in data/)."""
    try:
        with tarfile.open(tar_path, "r:*") as tar:
            for member in tar:
                if member.isfile() and PurePosixPath(member.name).parts[-2:] == ("data", name):
                    handle = tar.extractfile(member)
                    return handle.read() if handle is not None else None
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatasetError(
            f"{tar_path} is not a readable tar.gz ({error}); re-download the devkit"
        ) from error
    return None


def _tarballs(folders: Sequence[Path]) -> list[Path]:
    return [folder / DEVKIT_TAR for folder in folders if (folder / DEVKIT_TAR).is_file()]


def _first_file(candidates: Sequence[Sequence[Path]]) -> Path | None:
    for group in candidates:
        for path in group:
            if path.is_file():
                return path
    return None


def _integer(value, where: str, field: str) -> int:
    try:
        number = float(np.asarray(value).item())
    except (ValueError, TypeError) as error:
        raise DatasetError(f"{where}: field {field} holds {value!r}, not one number") from error
    if not number.is_integer():
        raise DatasetError(f"{where}: field {field} holds {number}, not a whole number")
    return int(number)


def _check_unique(wnids: list[str], where: str) -> None:
    seen: set[str] = set()
    repeated = [w for w in wnids if w in seen or seen.add(w)]
    if repeated:
        raise DatasetError(f"{where}: wnids appear under more than one ILSVRC2012_ID: {repeated[:5]}")


def _disagreement(devkit: IdOrder, given: IdOrder) -> str:
    first = next(
        (k for k, (a, b) in enumerate(zip(devkit.wnids, given.wnids, strict=False), 1) if a != b),
        min(len(devkit.wnids), len(given.wnids)) + 1,
    )
    a = devkit.wnids[first - 1] if first <= len(devkit.wnids) else "nothing"
    b = given.wnids[first - 1] if first <= len(given.wnids) else "nothing"
    return (
        f"the class map {given.where} disagrees with the devkit {devkit.where} "
        f"({len(given.wnids)} vs {len(devkit.wnids)} classes; ILSVRC2012_ID {first} is {b} there, {a} in the "
        "devkit): two different ID orders would put a wrong label on some images. Drop --map (the devkit "
        "defines the IDs) or pass the map_clsloc.txt that belongs to this devkit"
    )
