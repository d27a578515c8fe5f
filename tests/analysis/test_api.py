"""The Python API (`analysis.load_study`) on a tiny study trained for real, and the README's example.

The study mimics the demo's names (study `demo`, tasks `textures` and `shapes`, results/demo) so that the
README's "Python API" example runs unchanged against it. Its 3 sampled architectures train for one epoch
on random 16-px images (a few seconds); `keep_weights: best-2` leaves one run per task without weights.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from matplotlib.figure import Figure

import analysis
from analysis.errors import AnalysisError
from analysis.report import load_results
from analysis.tables import SCHEMAS
from pipeline import layout
from pipeline.collect import collect
from pipeline.launch import launch
from pipeline.sample import sample_study
from pipeline.study import load_study as load_definition
from pipeline.taskdata import TaskData
from pipeline.train import evaluate
from tests.pipeline.fanout_support import make_tiny_study

ROOT = Path(__file__).resolve().parents[2]
TASKS = {"textures": "cifar", "shapes": "power"}  # demo task name -> tiny task it is made of


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(root, study definition): a finished tiny study at root/results/demo, collected."""
    root = tmp_path_factory.mktemp("api")
    path = make_tiny_study(root, archs=False)
    raw = yaml.safe_load(path.read_text())
    raw.update(name="demo", results_dir=str(root / "results" / "demo"), reference="textures")
    raw["keep_weights"] = "best-2"
    raw["tasks"] = {name: raw["tasks"][tiny] for name, tiny in TASKS.items()}
    path = root / "demo.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    study = load_definition(path)
    sample_study(study)  # a real sample (flops, params, cum_depth, ...), as `pipeline run` makes it
    launch(study, out=lambda line: None, progress=lambda p: None)
    collect(study, out=lambda line: None)
    return root, study


def test_import_analysis_and_the_tables_import_no_torch(trained):
    root, _ = trained
    script = (
        "import sys, analysis\n"
        f"study = analysis.load_study({str(root / 'results' / 'demo')!r})\n"
        "study.correlations(n_boot=50); study.best('shapes'); study.history\n"
        "assert 'torch' not in sys.modules and 'timm' not in sys.modules, 'torch imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_folder_a_study_file_and_a_study_name_load_the_same_study(trained, monkeypatch):
    root, definition = trained
    by_folder = analysis.load_study(root / "results" / "demo")
    by_file = analysis.load_study(str(root / "demo.yaml"))
    assert by_folder.name == by_file.name == "demo" and by_file.path == definition.results_dir
    pd.testing.assert_frame_equal(by_folder.runs, by_file.runs)
    monkeypatch.chdir(root)  # the shipped demo.yaml names results/demo, relative to the working directory
    by_name = analysis.load_study("demo")
    pd.testing.assert_frame_equal(by_name.runs, by_folder.runs)
    assert "'demo'" in repr(by_name) and "textures, shapes" in repr(by_name)


def test_runs_architectures_and_history_are_the_typed_files(trained):
    root, _ = trained
    study = analysis.load_study(root / "results" / "demo")
    assert tuple(study.runs.columns) == layout.RESULT_COLUMNS and len(study.runs) == 6
    for column in ("arch_id", "seed", "epochs", "num_classes", "flops", "threads"):
        assert study.runs[column].dtype == np.int64, column
    assert study.runs["variant"].isna().all()  # whole stores: a real null, not the text 'null'
    assert study.architectures["arch_id"].tolist() == [0, 1, 2]
    assert len(study.architectures.loc[0, "depths"]) == 4
    assert study.tasks == ["textures", "shapes"]
    assert len(study.history) == 6 and set(study.history["task"]) == set(TASKS)


def test_the_tables_are_the_reports(trained):
    root, _ = trained
    study = analysis.load_study(root / "results" / "demo")
    from analysis.compute import analyse

    runs, archs, mapping = load_results(root / "results" / "demo")
    expected = analyse(runs, archs, mapping, n_boot=100, seed=3).tables
    got = study.correlations(n_boot=100, seed=3)
    pd.testing.assert_frame_equal(got, expected["correlations"])
    assert got.loc[0, "n"] == 3 and {got.loc[0, "task_a"], got.loc[0, "task_b"]} == set(TASKS)
    assert study.analysis(n_boot=100, seed=3) is study.analysis(n_boot=100, seed=3)  # computed once
    names = ("targets", "target_proxies", "edf", "drivers", "structure", "good_ranges", "topk", "regret")
    methods = {**{name: name for name in names}, "task_summary": "tasks"}
    for method, name in methods.items():
        table = getattr(study, method)(n_boot=100, seed=3)
        assert list(table.columns) == SCHEMAS[name].names, method
        pd.testing.assert_frame_equal(table, expected[name])
    assert study.targets(n_boot=100, seed=3)["target"].tolist() == ["shapes"]
    with pytest.raises(TypeError):
        study.correlations(100)  # options are keyword-only


def test_best_ranks_by_the_mean_ok_error(trained):
    root, _ = trained
    study = analysis.load_study(root / "results" / "demo")
    best = study.best("shapes", k=2)
    assert list(best.columns) == ["arch_id", "depths", "widths", "bottleneck_ratios", "group_widths", "error"]
    runs = study.runs[(study.runs["task"] == "shapes") & (study.runs["status"] == "ok")]
    by_hand = runs.groupby("arch_id")["error"].mean().sort_index().sort_values(kind="stable")
    assert best["arch_id"].tolist() == by_hand.index[:2].tolist()
    assert best["error"].tolist() == pytest.approx(by_hand.iloc[:2].tolist())
    first = study.architectures.set_index("arch_id").loc[best.loc[0, "arch_id"]]
    assert best.loc[0, "widths"] == list(first["widths"]) and len(study.best("shapes", k=10)) == 3


@pytest.mark.parametrize("task", list(TASKS))
def test_a_model_with_kept_weights_gives_its_runs_validation_error(trained, task):
    root, definition = trained
    study = analysis.load_study(root / "results" / "demo")
    arch_id = int(study.best(task, k=1).loc[0, "arch_id"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", analysis.UntrainedModelWarning)
        model = study.model(arch_id, task)
    from anynet import AnyNetX

    assert isinstance(model, AnyNetX) and model.pretrained_cfg["architecture"] == "anynetx"
    loader = TaskData(definition, definition.tasks[task], "cpu").val_loader()
    top1, top5 = evaluate(model.to(memory_format=torch.channels_last), loader, "cpu")
    run = study.runs[(study.runs["task"] == task) & (study.runs["arch_id"] == arch_id)].iloc[0]
    assert top1 == pytest.approx(run["top1_err"]) and top5 == pytest.approx(run["top5_err"])
    with pytest.warns(analysis.UntrainedModelWarning):
        fresh = study.model(arch_id)  # same architecture, untrained: other weights
    trained_state, fresh_state = model.state_dict(), fresh.state_dict()
    assert any(not torch.equal(trained_state[k], fresh_state[k]) for k in trained_state if "fc" not in k)


def test_an_untrained_model_says_why(trained):
    root, _ = trained
    study = analysis.load_study(root / "results" / "demo")
    worst = int(study.best("textures", k=3).iloc[-1]["arch_id"])  # best-2: its weights were pruned
    with pytest.warns(analysis.UntrainedModelWarning, match=r"no weights were kept .*keep_weights: best-2"):
        model = study.model(worst, "textures")
    assert model.num_classes == 10  # the task's classes, as trained
    with pytest.warns(analysis.UntrainedModelWarning, match="no task given"):
        model = study.model(worst)
    assert model.num_classes == 1000 and model.get_classifier().out_features == 1000  # the space's


def test_weights_of_another_run_are_refused(trained, tmp_path):
    root, _ = trained
    folder = tmp_path / "demo"
    shutil.copytree(root / "results" / "demo", folder)
    study = analysis.load_study(folder)
    ranked = study.best("textures", k=3)["arch_id"].tolist()
    runs = study.runs.set_index(["task", "arch_id"])
    kept, pruned = runs.loc[("textures", ranked[0]), "run_key"], runs.loc[("textures", ranked[2]), "run_key"]
    shutil.copy(
        layout.weights_path(folder, "textures", kept), layout.weights_path(folder, "textures", pruned)
    )
    with pytest.raises(AnalysisError, match="the file was moved or edited: delete it"):
        study.model(ranked[2], "textures")


def test_plot_pair_returns_a_new_figure_and_leaves_pyplot_alone(trained):
    import matplotlib.pyplot as plt

    root, _ = trained
    study = analysis.load_study(root / "results" / "demo")
    before = plt.get_fignums()
    fig = study.plot_pair("textures", "shapes", n_boot=50)
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("textures") and ax.get_ylabel().startswith("shapes")
    assert "n = 3" in ax.get_title()


def test_mistakes_are_one_error_naming_the_fix(trained, tmp_path):
    root, _ = trained
    study = analysis.load_study(root / "results" / "demo")
    cases = [
        (
            lambda: study.best("flowers"),
            r"no task 'flowers' in study 'demo'; its tasks with runs: textures, shapes",
        ),
        (lambda: study.best("shapes", k=0), "k must be a positive integer"),
        (lambda: study.model(7, "shapes"), r"no architecture 7 .*arch_id 0\.\.2, 3 architectures"),
        (lambda: study.model(0, "flowers"), "no task 'flowers'"),
        (lambda: study.model(0, "shapes", seed=4), "has no run on task 'shapes' with seed 4"),
        (lambda: study.plot_pair("shapes", "shapes"), "two different tasks"),
        (lambda: study.table("nope"), "no table 'nope'; the report's tables: .*correlations"),
        (lambda: analysis.load_study(tmp_path / "nowhere"), "neither a results folder nor a study"),
    ]
    for call, message in cases:
        with pytest.raises(AnalysisError, match=message):
            call()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "study.yaml").write_text("name: empty\n")
    with pytest.raises(
        AnalysisError, match=re.escape(f"python -m pipeline collect --study {empty / 'study.yaml'}")
    ):
        analysis.load_study(empty)


def test_the_readme_example_runs(trained, monkeypatch):
    """The README's "Python API" example, unchanged, against the finished tiny `demo` study."""
    root, _ = trained
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    assert "analysis.load_study(" in code and ".model(" in code and ".plot_pair(" in code
    monkeypatch.chdir(root)
    with warnings.catch_warnings():
        warnings.simplefilter("error", analysis.UntrainedModelWarning)
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert (root / "textures_vs_shapes.png").stat().st_size > 0
