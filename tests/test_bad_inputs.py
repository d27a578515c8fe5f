"""Bad input, table-driven, across every verb and file type: each case exits 2 with exactly one `error:`
line on stderr, no traceback, and leaves the files exactly as they were (nothing written, nothing removed).

Each case prepares a tiny study (random stores, three architectures) in a fresh folder, breaks one thing,
and runs the command in-process from that folder (so relative defaults such as data/ land there).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pipeline.__main__ import main as pipeline_main
from tests.pipeline.fanout_support import make_tiny_study

Setup = Callable[[Path], list[str]]


def _study(root: Path, edit: Callable[[dict], None] | None = None) -> Path:
    path = make_tiny_study(root)
    if edit is not None:
        raw = yaml.safe_load(path.read_text())
        edit(raw)
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _launch_with(edit: Callable[[dict], None]) -> Setup:
    return lambda root: ["launch", "--study", str(_study(root, edit))]


def _set(section: str, **values) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        target = raw
        for key in section.split(".") if section else []:
            target = target.setdefault(key, {})
        target.update(values)

    return edit


def _study_text(text_edit: Callable[[str], bytes]) -> Setup:
    def setup(root: Path) -> list[str]:
        path = _study(root)
        path.write_bytes(text_edit(path.read_text()))
        return ["launch", "--study", str(path)]

    return setup


def _with_study(*args: str, verb: str = "launch") -> Setup:
    return lambda root: [verb, "--study", str(_study(root)), *args]


def _damage(relative: str, data: bytes, verb: str = "launch", *extra: str) -> Setup:
    def setup(root: Path) -> list[str]:
        path = _study(root)
        (root / relative).write_bytes(data)
        return [verb, "--study", str(path), *extra]

    return setup


def _own_dataset(text: str | bytes) -> Setup:
    def setup(root: Path) -> list[str]:
        mine = root / "mine.yaml"
        mine.write_bytes(text.encode() if isinstance(text, str) else text)
        return ["prepare", str(mine), "--source", str(root)]

    return setup


def _own_dataset_in_study(root: Path) -> list[str]:
    (root / "mine.yaml").write_text(
        (Path("datasets") / "imagefolder.yaml").read_text().replace("name: imagefolder", 'name: "."')
    )
    return [
        "launch",
        "--study",
        str(_study(root, lambda raw: raw["tasks"]["cifar"].update(dataset="mine.yaml"))),
    ]


CATALOGUE = Path(__file__).resolve().parents[1] / "datasets"
CASES: dict[str, Setup] = {
    # ---- study files: text
    "study not UTF-8": _study_text(lambda t: t.encode() + "# caf\xe9\n".encode("latin-1")),
    "study with a duplicate key": _study_text(lambda t: (t + "name: again\n").encode()),
    "study not YAML": _study_text(lambda t: b"tasks: [unclosed\n"),
    "study a list": _study_text(lambda t: b"- a\n- b\n"),
    "study file missing": lambda root: ["launch", "--study", str(root / "nope.yaml")],
    "study name unknown": lambda root: ["status", "--study", "no-such-study"],
    # ---- study files: values
    "lr -0.1": _launch_with(_set("recipe", lr=-0.1)),
    "lr 0": _launch_with(_set("recipe", lr=0)),
    "label_smoothing 5": _launch_with(_set("recipe", label_smoothing=5)),
    "resolution -5": _launch_with(lambda raw: raw["tasks"]["cifar"]["recipe"].update(resolution=-5)),
    "epochs 0": _launch_with(lambda raw: raw["tasks"]["cifar"]["recipe"].update(epochs=0)),
    "epochs a float": _launch_with(lambda raw: raw["tasks"]["cifar"]["recipe"].update(epochs=2.5)),
    "batch_size 0": _launch_with(_set("recipe", batch_size=0)),
    "momentum 1.5": _launch_with(_set("recipe", momentum=1.5)),
    "weight_decay -1": _launch_with(_set("recipe", weight_decay=-1)),
    "warmup as long as training": _launch_with(_set("recipe", warmup_epochs=5)),
    "lr_min above lr": _launch_with(_set("recipe", lr_min=1.0)),
    "metric top3": _launch_with(_set("recipe", metric="top3")),
    "schedule linear": _launch_with(_set("recipe", schedule="linear")),
    "precise_bn_batches -1": _launch_with(_set("recipe", precise_bn_batches=-1)),
    "executor kind cloud": _launch_with(_set("executor", kind="cloud")),
    "runs_per_job 0": _launch_with(_set("executor", runs_per_job=0)),
    "array_parallelism 0": _launch_with(_set("executor", array_parallelism=0)),
    "max_array_size 0": _launch_with(_set("executor", max_array_size=0)),
    "threads_per_job 0": _launch_with(_set("executor", threads_per_job=0)),
    "mem_gb -1": _launch_with(_set("executor", mem_gb=-1)),
    "timeout_min 0": _launch_with(_set("executor", timeout_min=0)),
    "space n 0": _launch_with(_set("space", n=0)),
    "flops band to infinity": _launch_with(_set("space", flops_mf=[20, float("inf")])),
    "flops band upside down": _launch_with(_set("space", flops_mf=[40, 20])),
    "strides with a 3": _launch_with(_set("space", strides=[1, 2, 3, 2])),
    "duplicate seeds": _launch_with(_set("", seeds=[0, 0])),
    "negative seed": _launch_with(_set("", seeds=[-1])),
    "task name leaving the folder": _launch_with(
        lambda raw: raw["tasks"].update({"../../escaped": {"dataset": "cifar10"}})
    ),
    "task name .": _launch_with(lambda raw: raw["tasks"].update({".": {"dataset": "cifar10"}})),
    "study name with a slash": _launch_with(_set("", name="a/b")),
    "unknown dataset": _launch_with(lambda raw: raw["tasks"]["cifar"].update(dataset="cifar11")),
    "variant balanced maybe": _launch_with(
        lambda raw: raw["tasks"]["cifar"].update(variant={"balanced": "maybe"})
    ),
    "variant unknown key": _launch_with(lambda raw: raw["tasks"]["cifar"].update(variant={"colour": 1})),
    "variant fraction 2": _launch_with(lambda raw: raw["tasks"]["cifar"].update(variant={"fraction": 2})),
    "keep_weights best-0": _launch_with(_set("", keep_weights="best-0")),
    "replicate seeds overlap": _launch_with(_set("", replicates={"archs": 2, "seeds": [0]})),
    "ladder with an unknown factor": _launch_with(_set("", ladder={"of": "cifar", "colour": [1]})),
    "proxy not a task": _launch_with(lambda raw: raw["tasks"]["power"].update(proxy="imagenet-2")),
    "reference not a task": _launch_with(_set("", reference="imagenet")),
    "unknown top-level key": _launch_with(_set("", colour="blue")),
    "dataset YAML missing": _launch_with(lambda raw: raw["tasks"]["cifar"].update(dataset="nope.yaml")),
    "own dataset named .": _own_dataset_in_study,
    # ---- dataset YAMLs given to prepare
    "dataset YAML named .": _own_dataset(
        (CATALOGUE / "imagefolder.yaml").read_text().replace("name: imagefolder", 'name: "."')
    ),
    "dataset YAML not UTF-8": _own_dataset(b"name: caf\xe9\n"),
    "dataset YAML duplicate key": _own_dataset(
        (CATALOGUE / "imagefolder.yaml").read_text() + "name: again\n"
    ),
    "dataset YAML resolution 0": _own_dataset(
        (CATALOGUE / "imagefolder.yaml").read_text().replace("resolution: 64", "resolution: 0")
    ),
    "prepare an unknown dataset": lambda root: ["prepare", "no-such-set", "--source", str(root)],
    # ---- command-line flags
    "launch --runs-per-job 0": _with_study("--runs-per-job", "0"),
    "launch --runs-per-job -3": _with_study("--runs-per-job", "-3"),
    "launch --array-parallelism 0": _with_study("--array-parallelism", "0"),
    "launch --max-array-size 0": _with_study("--max-array-size", "0"),
    "launch --executor cloud": _with_study("--executor", "cloud"),
    "launch --bogus": _with_study("--bogus"),
    "launch without --study": lambda root: ["launch"],
    "cost --macs-per-second 0": _with_study("--macs-per-second", "0", verb="cost"),
    "cost --macs-per-second -5": _with_study("--macs-per-second", "-5", verb="cost"),
    "downsample --size 0": lambda root: [
        "downsample",
        "--source",
        str(root),
        "--size",
        "0",
        "--out",
        str(root / "o"),
    ],
    "downsample --size -4": lambda root: [
        "downsample",
        "--source",
        str(root),
        "--size",
        "-4",
        "--out",
        str(root / "o"),
    ],
    "prepare --split-seed -1": lambda root: [
        "prepare",
        "concrete",
        "--source",
        str(root),
        "--split-seed",
        "-1",
    ],
    "prepare --chunk-size 0": lambda root: [
        "prepare",
        "concrete",
        "--source",
        str(root),
        "--chunk-size",
        "0",
    ],
    "prepare --workers 0": lambda root: ["prepare", "concrete", "--source", str(root), "--workers", "0"],
    "prepare into /proc": lambda root: ["prepare", "synth-shapes", "--data-root", "/proc/archcorr-data"],
    "sample --flops 20 inf": lambda root: [
        "sample",
        "--flops",
        "20",
        "inf",
        "--out",
        str(root / "a.parquet"),
    ],
    "sample --n 0": lambda root: ["sample", "--n", "0", "--out", str(root / "a.parquet")],
    "sample --n many": lambda root: ["sample", "--n", "many", "--out", str(root / "a.parquet")],
    "sample --strides 1 3 2 2": lambda root: [
        "sample",
        "--strides",
        "1",
        "3",
        "2",
        "2",
        "--out",
        str(root / "a.parquet"),
    ],
    "sample --flops 1 2 (empty band)": lambda root: [
        "sample",
        "--flops",
        "1",
        "2",
        "--out",
        str(root / "a.parquet"),
    ],
    "collect into a folder that does not exist": _with_study(
        "--results-dir", "/nonexistent/archcorr", verb="collect"
    ),
    "unknown verb": lambda root: ["lanch", "--study", "x"],
    # ---- damaged files
    "architectures.parquet damaged": _damage(
        "results/tiny/architectures.parquet", b"PAR1 garbage PAR1", "status"
    ),
    "architectures.parquet empty": _damage("results/tiny/architectures.parquet", b"", "launch"),
    "store meta.json damaged": _damage("data/cifar10/meta.json", b"{not json", "launch"),
    "store index damaged": _damage("data/cifar10/index.parquet", b"garbage", "status"),
    "store images damaged": _damage("data/cifar10/images.npy", b"\x93NUMPY garbage", "collect"),
    "cluster profile not YAML": _launch_with(_set("executor", kind="slurm", profile="prof.yaml")),
    "cluster profile with an unknown parameter": _launch_with(
        _set("executor", kind="slurm", profile="prof-unknown.yaml", max_array_size=10)
    ),
}


def _write_profile(root: Path) -> None:
    (root / "prof.yaml").write_text("partition: [unclosed\n")
    (root / "prof-unknown.yaml").write_text("colour: blue\n")


def _launch_record_damaged(root: Path) -> list[str]:
    path = _study(root)
    folder = root / "results" / "tiny" / "launches"
    folder.mkdir(parents=True)
    (folder / "20260101T000000.000000Z.json").write_text("{half a record")
    return ["status", "--study", str(path)]


CASES["launch record damaged"] = _launch_record_damaged


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def test_there_are_at_least_60_cases():
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_one_error_line_exit_2_and_changes_nothing(case, tmp_path, monkeypatch, capsys):
    root = tmp_path / "work"
    root.mkdir()
    _write_profile(root)
    argv = CASES[case](root)
    capsys.readouterr()
    before = _snapshot(root)
    monkeypatch.chdir(root)
    code = pipeline_main(argv)
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}; stderr: {err}"
    lines = err.rstrip("\n").split("\n")
    assert lines[0].startswith("error: ") and all(line.startswith("  ") for line in lines[1:]), err
    assert "Traceback" not in err and err.count("error:") == 1
    assert _snapshot(root) == before, "files were written or changed"
    assert not Path("/nonexistent/archcorr").exists()
    assert os.listdir(tmp_path) == ["work"]
