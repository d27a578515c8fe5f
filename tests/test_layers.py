"""The packages' layers hold, and commands that touch no model import no torch (issue: lean structure).

Static part: every import statement of every module (function-level ones included) is checked against the
layer order  verbs -> ledger -> study -> data -> anynet,  with the bottom utilities (errors, fsio, validate,
progress, cli) importing no other pipeline module, anynet importing neither pipeline nor analysis, and
analysis importing from pipeline only its bottom utilities (the user-facing `analysis.api` and the command
line may also read studies). Runtime part: `python -X importtime` of the light commands lists no torch or
timm module (import-linter would count the lazy imports inside functions; this checks what really loads).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
UTILITIES = {"pipeline.errors", "pipeline.fsio", "pipeline.validate", "pipeline.progress", "pipeline.cli"}
LEDGER = {"pipeline.plan", "pipeline.layout", "pipeline.jobs", "pipeline.taskdata"}
STUDY = {"pipeline.study", "pipeline.study_schema", "pipeline.ladder"}
# torch-free parts of anynet: importing them (or `anynet` itself) must not load torch
ANYNET_NUMPY = {
    "anynet",
    "anynet.arch",
    "anynet.adjust",
    "anynet.complexity",
    "anynet.sampler",
    "anynet.errors",
}


def _modules() -> dict[str, set[str]]:
    """{module: every project module it imports (any scope)} for anynet, pipeline and analysis."""
    found = {}
    for package in ("anynet", "pipeline", "analysis"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "catalogue" in path.parts or "published" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            imports = set()
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    imports |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imports.add(node.module)
                    imports |= {f"{node.module}.{alias.name}" for alias in node.names}
            found[name] = {i for i in imports if i.split(".")[0] in ("anynet", "pipeline", "analysis")}
    return found


MODULES = _modules()


def _layer(module: str) -> str:
    if module.startswith("anynet"):
        return "anynet"
    if module.startswith("analysis"):
        return "analysis"
    if module in UTILITIES:
        return "utility"
    if module.startswith("pipeline.data"):
        return "data"
    if module in STUDY:
        return "study"
    if module in LEDGER:
        return "ledger"
    return "verb" if module != "pipeline" else "utility"


def _project(imported: str) -> str | None:
    """The project module an imported name refers to (a module, or the module defining a name)."""
    name = imported
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


ALLOWED = {  # layer -> layers it may import
    "anynet": {"anynet"},
    "utility": {"utility"},
    "data": {"data", "utility", "anynet"},
    "study": {"study", "data", "utility", "anynet"},
    "ledger": {"ledger", "study", "data", "utility", "anynet"},
    "verb": {"verb", "ledger", "study", "data", "utility", "anynet", "analysis"},
    "analysis": {"analysis", "utility", "anynet"},
}
FACADES = {"analysis.api", "analysis.__main__"}  # may read studies and results through the pipeline


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_one_way(module):
    layer = _layer(module)
    allowed = ALLOWED[layer] | ({"ledger", "study", "data", "verb"} if module in FACADES else set())
    wrong = sorted(
        f"{target} ({_layer(target)})"
        for target in filter(None, map(_project, MODULES[module]))
        if _layer(target) not in allowed and target != module
    )
    assert not wrong, f"{module} ({layer}) imports {wrong}; allowed layers: {sorted(allowed)}"


def test_the_numpy_part_of_anynet_has_no_torch_import_at_all():
    for module in ANYNET_NUMPY:
        path = ROOT / (module.replace(".", "/") + ("/__init__.py" if module == "anynet" else ".py"))
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in top if isinstance(n, ast.ImportFrom) and n.module}
        assert not {n for n in names if n.split(".")[0] in ("torch", "timm")}, module


# ---------------------------------------------------------------------------------------------- runtime
@pytest.fixture(scope="module")
def finished_tiny_study(tmp_path_factory):
    """A tiny study with result rows written by hand (nothing trained) and its collected tables."""
    from pipeline import layout
    from pipeline.collect import collect
    from pipeline.launch import current_plan, write_study_copy
    from pipeline.study import load_study
    from tests.pipeline.fanout_support import make_tiny_study

    root = tmp_path_factory.mktemp("layers")
    study = load_study(make_tiny_study(root))
    _add_complexity(study.results_dir / layout.ARCH_FILE)
    for i, r in enumerate(current_plan(study).itertuples()):
        row = dict.fromkeys(layout.RESULT_COLUMNS)
        row.update(run_key=r.run_key, task=r.task, arch_id=r.arch_id, seed=0, error=10.0 + (i * 7) % 5,
                   status="ok", epochs=1, num_classes=10, metric="top1")  # fmt: skip
        layout.write_result(study.results_dir, r.task, row, [])
    write_study_copy(study)
    collect(study, out=lambda line: None)
    return study


def _add_complexity(path: Path) -> None:
    """Give the hand-made architectures the complexity columns a sampled table has (space record kept)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from anynet import Arch, complexity

    table = pq.read_table(path)
    frame = table.to_pandas()
    counts = [complexity(Arch.from_row(r)) for r in frame.to_dict("records")]
    for key in ("flops", "params", "acts"):
        frame[key] = [c[key] for c in counts]
    frame["cum_depth"] = frame["depths"].map(sum)
    frame["cum_width"] = frame["widths"].map(sum)
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(table.schema.metadata), path
    )


def _imported(args: list[str], cwd: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args], capture_output=True, text=True, cwd=cwd
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert len(lines) > 50, "no -X importtime listing was read"
    return {line.rsplit("|", 1)[-1].strip() for line in lines}


def test_light_commands_import_no_torch(finished_tiny_study, tmp_path):
    study = str(finished_tiny_study.source)
    commands = [
        ["-m", "pipeline.sample", "--n", "20", "--seed", "0", "--out", str(tmp_path / "a.parquet")],
        ["-m", "pipeline", "status", "--study", study],
        ["-m", "pipeline", "collect", "--study", study],
        ["-m", "pipeline", "cost", "--study", study],
        ["-m", "pipeline", "launch", "--study", study, "--dry-run"],
        ["-m", "pipeline", "clean", "--study", study, "--dry-run"],
        ["-m", "analysis", "report", str(finished_tiny_study.results_dir), "--bootstrap", "50"],
    ]
    for args in commands:
        heavy = sorted(
            m for m in _imported(args, ROOT) if m.split(".")[0] in ("torch", "timm", "torchvision")
        )
        assert not heavy, f"{' '.join(args[:3])} imported {heavy[:5]}"
    assert pd.read_parquet(tmp_path / "a.parquet").shape[0] == 20
