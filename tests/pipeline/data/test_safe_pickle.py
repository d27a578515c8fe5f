"""The restricted unpickler loads what CIFAR/C17 files contain and refuses a pickle that would run code."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pipeline.data.safe_pickle import RefusedPickleError, load_dict, loads
from pipeline.errors import DatasetError


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


class _Evals:
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_loads_numpy_arrays_lists_and_bytes_keys(tmp_path, rng, protocol):
    data = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
    payload = {
        b"data": data,
        b"labels": [1, 2, 3, 4],
        b"mean": data.mean(axis=0),
        b"name": b"x",
        "n": np.int64(4),
    }
    (tmp_path / "f").write_bytes(pickle.dumps(payload, protocol=protocol))
    loaded = load_dict(tmp_path / "f")
    np.testing.assert_array_equal(loaded["data"], data)
    assert loaded["labels"] == [1, 2, 3, 4] and loaded["n"] == 4
    np.testing.assert_array_equal(loaded["mean"], data.mean(axis=0))


def test_refuses_os_system_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"data": _RunsCode(marker)}, protocol=2)
    (tmp_path / "data_batch_1").write_bytes(evil)
    with pytest.raises(RefusedPickleError, match=r"refused to unpickle (posix|os)\.system"):
        load_dict(tmp_path / "data_batch_1")
    assert not marker.exists()
    pickle.loads(evil)  # the same bytes do run code through plain pickle: the test pickle is really malicious
    assert marker.exists()


def test_refuses_builtins_eval_and_is_a_dataset_error():
    with pytest.raises(DatasetError, match=r"builtins\.eval"):
        loads(pickle.dumps(_Evals()))


def test_garbage_is_a_clear_error(tmp_path):
    (tmp_path / "x").write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(DatasetError, match="not a readable dataset pickle"):
        load_dict(tmp_path / "x")
    (tmp_path / "y").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(DatasetError, match="expected a pickled dict"):
        load_dict(tmp_path / "y")


def test_loads_pickles_written_by_numpy_1(tmp_path, rng):
    """Old files name numpy.core.multiarray (numpy 1.x); numpy 2 writes numpy._core: both are allowed."""
    data = rng.integers(0, 256, size=(2, 12), dtype=np.uint8)
    blob = pickle.dumps({"data": data, "labels": [0, 1]}, protocol=2)
    old = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert old != blob
    np.testing.assert_array_equal(loads(old)["data"], data)
