"""Every catalogue entry loads and agrees with STUDY.md §3/§4; a bad entry gets one message naming all
its problems."""

from __future__ import annotations

import pytest

from pipeline.data.catalogue import CATALOGUE_DIR, list_datasets, load_entry
from pipeline.errors import DatasetError

# STUDY.md §3 (stored size, classes, evaluation set) and §4 (epochs, metric)
PAPER = {
    "imagenet": (256, None, "official", 10, "top5"),
    "concrete": (227, 2, "holdout", 20, "top1"),
    "mlc2008": (312, 9, "holdout", 20, "top1"),
    "ham10000": (296, 7, "holdout", 30, "top1"),
    "powerline": (128, 2, "holdout", 20, "top1"),
    "insects": (296, None, "holdout", 20, "top5"),
    "natural": (150, 6, "official", 20, "top1"),
    "cifar10": (32, None, "official", 30, "top1"),
    "cifar100": (32, None, "official", 30, "top5"),
}


@pytest.mark.parametrize("name", list_datasets())
def test_every_entry_loads(name):
    entry = load_entry(name)
    assert entry.name == name and entry.resolution > 0
    assert entry.recipe["metric"] in ("top1", "top5") and entry.recipe["epochs"] > 0
    if entry.format != "synthetic":
        assert entry.source.get("expect"), "every real dataset says what its files look like"


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_datasets_match_the_study(name):
    resolution, classes, policy, epochs, metric = PAPER[name]
    entry = load_entry(name)
    assert entry.resolution == resolution and entry.split["policy"] == policy
    assert (entry.recipe["epochs"], entry.recipe["metric"]) == (epochs, metric)
    if classes is not None:
        assert entry.num_classes == classes
    if policy == "holdout":
        assert entry.split["fraction"] == 0.1 and isinstance(entry.split["seed"], int)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DatasetError) as error:
        load_entry("imagenette")
    message = str(error.value)
    assert "unknown dataset 'imagenette'" in message
    assert all(name in message for name in ("cifar10", "concrete", "mlc2008", "natural"))


def test_user_yaml_by_path_and_every_problem_at_once(tmp_path):
    good = tmp_path / "mine.yaml"
    good.write_text(
        (CATALOGUE_DIR / "imagefolder.yaml").read_text().replace("name: imagefolder", "name: mine")
    )
    assert load_entry(str(good)).name == "mine"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nformat: folders\nresolution: -3\nsplit: {policy: random}\nrecipe: {epochs: 0}\n"
        "colour: blue\n"
    )
    with pytest.raises(DatasetError) as error:
        load_entry(str(bad))
    message = str(error.value)
    for part in ("format 'folders'", "resolution -3", "split.policy 'random'", "recipe.epochs 0",
                 "recipe.metric None", "unknown keys ['colour']"):  # fmt: skip
        assert part in message
    with pytest.raises(DatasetError, match="does not exist"):
        load_entry(str(tmp_path / "missing.yaml"))
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(DatasetError, match="expected a mapping"):
        load_entry(str(tmp_path / "list.yaml"))
