"""Prepare as a user meets it: corrupt images skipped and reported, no repeated work, resume after an
interruption, clear messages for a missing or misnamed source, the CLI, and parallel = serial."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.__main__ import main as pipeline_main
from pipeline.data import decode as prepare  # the engine that decodes (load_pixels lives there)
from pipeline.data.catalogue import load_entry
from pipeline.data.decode import compact
from pipeline.data.prepare import prepare_dataset
from pipeline.errors import DatasetError

from . import raw_fixtures as raw


@pytest.fixture
def concrete_src(tmp_path):
    raw.class_folders(tmp_path / "src", ["Negative", "Positive"], 10, suffix=".jpg")
    return tmp_path / "src"


@pytest.fixture
def decodes(monkeypatch):
    """Count the images prepare decodes (workers=1 runs in this process)."""
    calls = []
    real = prepare.load_pixels

    def counting(source, *args):
        calls.append(source)
        return real(source, *args)

    monkeypatch.setattr(prepare, "load_pixels", counting)
    return calls


def _run(src, out, **kwargs):
    kwargs.setdefault("workers", 1)
    return prepare_dataset(load_entry("concrete"), src, out, log=lambda line: None, **kwargs)


def test_corrupt_images_are_skipped_logged_and_counted(tmp_path, concrete_src):
    (concrete_src / "Positive" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = (concrete_src / "Negative" / "img_000.jpg").read_bytes()
    (concrete_src / "Negative" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    lines = []
    result = prepare_dataset(
        load_entry("concrete"), concrete_src, tmp_path / "out", workers=1, log=lines.append
    )
    skipped = {sid for sid, _ in result.skipped}
    assert skipped == {"Positive/broken.jpg", "Negative/truncated.jpg"}
    assert len(result.store.labels) == 20 and "2 skipped" in result.summary()
    assert any("skipped Positive/broken.jpg" in line for line in lines)
    assert result.store.meta["num_skipped"] == 2
    assert {s["source_id"] for s in result.store.meta["skipped"]} == skipped
    assert not set(result.store.source_ids) & skipped
    # rows were squeezed out, not left black: every stored image is its class colour
    for i, sid in enumerate(result.store.source_ids):
        label = ["Negative", "Positive"].index(sid.split("/")[0])
        index = int(sid.split("_")[1].split(".")[0])
        assert np.abs(result.store.images[i].astype(int) - raw.colour(label, index)).max() <= 3


def test_second_prepare_does_no_work_and_says_so(tmp_path, concrete_src, decodes):
    _run(concrete_src, tmp_path / "out")
    assert len(decodes) == 20
    again = _run(concrete_src, tmp_path / "out")
    assert len(decodes) == 20 and again.already and "nothing to do" in again.summary()
    with pytest.raises(DatasetError, match="--force"):
        _run(concrete_src, tmp_path / "out", split_seed=5)
    other = _run(concrete_src, tmp_path / "out", split_seed=5, force=True)
    assert other.store.meta["split"]["seed"] == 5 and len(decodes) == 40


def _die_on_the_ninth(monkeypatch):
    """Make the ninth decoded image raise KeyboardInterrupt (an interrupted prepare); (real, calls)."""
    real = prepare.load_pixels
    calls = []

    def dies_on_the_ninth(source, *args):
        calls.append(source)
        if len(calls) == 9:
            raise KeyboardInterrupt
        return real(source, *args)

    monkeypatch.setattr(prepare, "load_pixels", dies_on_the_ninth)
    return real, calls


def test_interrupted_prepare_resumes_where_it_stopped(tmp_path, concrete_src, monkeypatch):
    real, calls = _die_on_the_ninth(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _run(concrete_src, tmp_path / "out", chunk_size=4)
    assert not (tmp_path / "out").exists()  # nothing half-written is visible
    assert len(list((tmp_path / ".out.partial" / "chunks").glob("*.json"))) == 2  # 8 images finished
    calls.clear()
    monkeypatch.setattr(prepare, "load_pixels", lambda source, *a: calls.append(source) or real(source, *a))
    result = _run(concrete_src, tmp_path / "out", chunk_size=4)
    assert len(calls) == 12 and result.resumed_chunks == 2
    fresh = _run(concrete_src, tmp_path / "fresh", chunk_size=4)
    np.testing.assert_array_equal(np.asarray(result.store.images), np.asarray(fresh.store.images))
    assert list(result.store.splits) == list(fresh.store.splits)
    assert not (tmp_path / ".out.partial").exists()


def test_changed_source_starts_over(tmp_path, concrete_src, monkeypatch):
    real = prepare.load_pixels
    state = {"n": 0}

    def dies(source, *args):
        state["n"] += 1
        if state["n"] == 6:
            raise KeyboardInterrupt
        return real(source, *args)

    monkeypatch.setattr(prepare, "load_pixels", dies)
    with pytest.raises(KeyboardInterrupt):
        _run(concrete_src, tmp_path / "out", chunk_size=4)
    raw.solid(concrete_src / "Positive" / "new.jpg", (9, 9, 9))
    monkeypatch.setattr(prepare, "load_pixels", real)
    result = _run(concrete_src, tmp_path / "out", chunk_size=4)
    assert result.resumed_chunks == 0 and len(result.store.labels) == 21


def test_parallel_prepare_equals_serial(tmp_path, concrete_src):
    serial = _run(concrete_src, tmp_path / "serial", chunk_size=3)
    parallel = _run(concrete_src, tmp_path / "parallel", workers=2, chunk_size=3)
    np.testing.assert_array_equal(np.asarray(serial.store.images), np.asarray(parallel.store.images))
    assert serial.store.fingerprint == parallel.store.fingerprint
    assert serial.store.meta["mean"] == parallel.store.meta["mean"]


def test_compact_rewrites_a_valid_npy(tmp_path, rng):
    data = rng.integers(0, 256, size=(1001, 2, 2, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", data)
    keep = np.array([0, 5, 6, 999, 1000])
    compact(tmp_path, keep)
    np.testing.assert_array_equal(np.load(tmp_path / "images.npy"), data[keep])


def test_missing_source_folder_says_what_is_expected_where(tmp_path):
    with pytest.raises(
        DatasetError, match=r"does not exist; expected in it: Negative/\*\.jpg; Positive/\*\.jpg"
    ):
        _run(tmp_path / "nowhere", tmp_path / "out")


def test_misnamed_layouts_get_messages_naming_the_expected_folder(tmp_path):
    raw.class_folders(tmp_path / "src", ["negative", "Positive"], 1)  # wrong case
    with pytest.raises(DatasetError, match=r"class folders \['Negative'\].*found: Positive/, negative/"):
        _run(tmp_path / "src", tmp_path / "out")
    raw.class_folders(tmp_path / "intel" / "train", ["sea"], 1)
    with pytest.raises(DatasetError, match=r"seg_train/seg_train/<class>/ not found under .*found: train/"):
        prepare_dataset(load_entry("natural"), tmp_path / "intel", tmp_path / "n", workers=1)
    (tmp_path / "cifar").mkdir()
    (tmp_path / "cifar" / "data_batch_1").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"the files \['data_batch_2'.*'test_batch', 'batches.meta'\]"):
        prepare_dataset(load_entry("cifar10"), tmp_path / "cifar", tmp_path / "c", workers=1)
    with pytest.raises(DatasetError, match=r"HAM10000_metadata\.csv not found"):
        prepare_dataset(load_entry("ham10000"), tmp_path / "cifar", tmp_path / "h", workers=1)
    (tmp_path / "imagenet" / "train" / "n01440764").mkdir(parents=True)
    with pytest.raises(DatasetError, match="val/ not found under"):
        prepare_dataset(load_entry("imagenet"), tmp_path / "imagenet", tmp_path / "i", workers=1)


def test_cli_prints_one_line_errors_and_a_summary(tmp_path, concrete_src, capsys):
    out = tmp_path / "data"
    assert pipeline_main(["prepare", "concrete", "--source", str(concrete_src), "--data-root", str(out),
                          "--workers", "1"]) == 0  # fmt: skip
    assert "concrete: 20 images (18 train / 2 val), 0 skipped, 227×227 px" in capsys.readouterr().out
    assert pipeline_main(["prepare", "concrete", "--source", str(concrete_src), "--data-root", str(out)]) == 0
    assert "already prepared" in capsys.readouterr().out
    assert pipeline_main(["prepare", "no-such-set", "--source", str(concrete_src)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: unknown dataset 'no-such-set'; known datasets: cifar10")
        and err.count("\n") == 1
    )
    assert (
        pipeline_main(
            ["prepare", "concrete", "--source", str(tmp_path / "nope"), "--out", str(tmp_path / "x")]
        )
        == 2
    )
    assert "expected in it" in capsys.readouterr().err


def test_never_replaces_a_folder_that_is_not_a_store(tmp_path, concrete_src):
    with pytest.raises(DatasetError, match="is not a prepared store; refusing"):
        _run(concrete_src, concrete_src)  # --out pointing at the source by mistake
    assert len(list((concrete_src / "Positive").iterdir())) == 10


def test_dry_run_counts_without_decoding(tmp_path, concrete_src, decodes, capsys):
    code = pipeline_main(
        ["prepare", "concrete", "--source", str(concrete_src), "--dry-run", "--out", str(tmp_path / "o")]
    )
    assert code == 0 and not decodes and not (tmp_path / "o").exists()
    out = capsys.readouterr().out
    assert "would pack 20 images (20 hold-out pool) at 227 px, split holdout" in out
    assert "per class: Negative 10, Positive 10" in out


def test_a_resume_with_another_chunk_size_starts_over_and_says_so(tmp_path, concrete_src, monkeypatch):
    """Regression: killed with --chunk-size 4 and resumed with 3, prepare used to read the old done markers
    with the new chunk boundaries and store black images under an unchanged fingerprint."""
    real, _ = _die_on_the_ninth(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _run(concrete_src, tmp_path / "out", chunk_size=4)
    monkeypatch.setattr(prepare, "load_pixels", real)
    lines = []
    resumed = prepare_dataset(
        load_entry("concrete"), concrete_src, tmp_path / "out", workers=1, chunk_size=3, log=lines.append
    )
    assert resumed.resumed_chunks == 0
    assert any("starting over" in line and "chunk_size" in line for line in lines)
    straight = _run(concrete_src, tmp_path / "straight", chunk_size=4)
    np.testing.assert_array_equal(np.asarray(resumed.store.images), np.asarray(straight.store.images))
    assert resumed.store.fingerprint == straight.store.fingerprint
    assert np.asarray(resumed.store.images).reshape(len(resumed.store.images), -1).max(axis=1).min() > 0


def test_stores_with_different_pixels_never_share_a_fingerprint(tmp_path, concrete_src):
    a = _run(concrete_src, tmp_path / "a")
    raw.solid(concrete_src / "Positive" / "img_003.jpg", (1, 2, 3))  # one image changed, same names
    b = _run(concrete_src, tmp_path / "b")
    assert a.store.meta["split"] == b.store.meta["split"] and len(a.store.labels) == len(b.store.labels)
    assert a.store.fingerprint != b.store.fingerprint


def test_a_real_sigkill_then_a_resume_with_another_chunk_size(tmp_path, concrete_src):
    """A real process killed with SIGKILL mid-prepare (workers decoding in parallel), resumed by another
    process with another --chunk-size: the store equals one prepared in one go, pixel for pixel."""
    import signal
    import subprocess
    import sys
    import time

    for i in range(10, 400):  # enough images that the kill lands mid-way
        raw.solid(concrete_src / ("Negative" if i % 2 else "Positive") / f"more_{i:03d}.jpg", (i % 256, 7, 9))
    cmd = [
        sys.executable,
        "-m",
        "pipeline",
        "prepare",
        "concrete",
        "--source",
        str(concrete_src),
        "--out",
        str(tmp_path / "out"),
        "--workers",
        "2",
    ]
    proc = subprocess.Popen([*cmd, "--chunk-size", "8"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marks = tmp_path / ".out.partial" / "chunks"
    deadline = time.time() + 120
    while len(list(marks.glob("*.json"))) < 3:
        assert time.time() < deadline and proc.poll() is None, "prepare ended before it could be killed"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "out").exists()
    done = subprocess.run([*cmd, "--chunk-size", "5"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "starting over" in done.stderr
    straight = _run(concrete_src, tmp_path / "straight", chunk_size=8)
    from pipeline.data.store import open_store

    resumed = open_store(tmp_path / "out")
    np.testing.assert_array_equal(np.asarray(resumed.images), np.asarray(straight.store.images))
    assert resumed.fingerprint == straight.store.fingerprint


def test_a_full_disk_is_one_error_and_leaves_nothing(tmp_path, concrete_src, capsys):
    """On a real, tiny tmpfs (root only; skipped otherwise): prepare refuses up front when the space is
    short, says so in one line, and leaves no temp or partial files."""
    import os
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if ok.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {ok.stderr.decode().strip()}")
    try:
        code = pipeline_main(
            [
                "prepare",
                "concrete",
                "--source",
                str(concrete_src),
                "--out",
                str(mount / "c"),
                "--workers",
                "2",
            ]
        )
        err = capsys.readouterr().err
        assert code == 1 and err.startswith("error: ") and err.count("\n") == 1, err
        assert "free" in err and "run the same command again" in err
        assert sorted(os.listdir(mount)) == []
    finally:
        subprocess.run(["umount", str(mount)], check=False)
