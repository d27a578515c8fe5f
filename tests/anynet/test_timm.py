"""timm conventions: create_model keywords, pretrained_cfg, features_only, the head API, rows of the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import timm
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, resolve_data_config
from timm.models import FeatureListNet

from anynet import AnyNetX, Arch, ArchError, build_model, complexity, sample_archs

T22 = Arch((1, 2, 1, 1), (16, 32, 64, 96), (1, 2, 4, 1), (8, 8, 4, 16))  # strides (1, 2, 2, 2)
REGNET_SE = Arch((1, 1, 2, 1), (24, 48, 96, 120), (1, 1, 2, 2), (8, 16, 8, 20), se_ratio=0.25,
                 strides=(2, 2, 2, 2), stem_width=16)  # fmt: skip
MIXED = Arch((1, 1, 1, 1), (8, 16, 24, 32), (1, 1, 1, 1), (8, 8, 8, 8), strides=(2, 1, 2, 1))
IDS = ["t22", "regnet", "mixed"]


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_create_model_takes_timms_keywords():
    torch.manual_seed(0)
    model = timm.create_model(
        "anynetx", arch=T22, num_classes=7, in_chans=1, drop_rate=0.3, global_pool="avg",
        pretrained_cfg_overlay={"crop_pct": 0.95},
    )  # fmt: skip
    assert isinstance(model, AnyNetX) and model.arch == T22
    assert (model.num_classes, model.in_chans, model.drop_rate) == (7, 1, 0.3)
    assert model.stem.conv.in_channels == 1 and model.get_classifier().out_features == 7
    assert isinstance(model.head.drop, torch.nn.Dropout) and model.head.drop.p == 0.3
    assert model.pretrained_cfg["crop_pct"] == 0.95
    assert n_params(model) == complexity(T22, num_classes=7, in_chans=1)["params"]
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 7)
    # num_classes defaults to the cfg's 1000 and in_chans to its input_size[0]
    default = timm.create_model("anynetx", arch=REGNET_SE.to_dict())
    assert default.arch == REGNET_SE and default.num_classes == 1000 and default.in_chans == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({}, ArchError, r"needs arch=anynet\.Arch"),
        ({"arch": T22, "drop_path_rate": 0.1}, TypeError, r"unexpected argument\(s\) \['drop_path_rate'\]"),
        ({"arch": T22, "num_clases": 10}, TypeError, r"\['num_clases'\]; it takes \['arch', 'num_classes'"),
        ({"arch": T22, "pretrained": True}, ValueError, "no pretrained weights"),
        ({"arch": T22, "drop_rate": 1.5}, ValueError, r"drop_rate=1\.5 must be a number in \[0, 1\)"),
        ({"arch": T22, "global_pool": "max"}, ValueError, r"global_pool='max' is not one of .*'avg', ''"),
        ({"arch": T22, "in_chans": 0}, ValueError, "in_chans=0 must be a positive integer"),
        ({"arch": {**T22.to_dict(), "width": 3}}, ArchError, r"unknown Arch field\(s\) \['width'\]"),
    ],
)
def test_bad_keywords_fail_by_name(kwargs, error, needle):
    with pytest.raises(error, match=needle):
        timm.create_model("anynetx", **kwargs)


@pytest.mark.parametrize(("arch", "pool"), [(T22, 14), (REGNET_SE, 7), (MIXED, 28)], ids=IDS)
def test_pretrained_cfg_is_a_timm_default_cfg(arch, pool):
    model = timm.create_model("anynetx", arch=arch, num_classes=10)
    cfg = model.pretrained_cfg
    assert cfg["num_classes"] == 1000 and cfg["input_size"] == (3, 224, 224)
    assert cfg["crop_pct"] == 0.875 and cfg["interpolation"] == "bilinear"
    assert tuple(cfg["mean"]) == IMAGENET_DEFAULT_MEAN and tuple(cfg["std"]) == IMAGENET_DEFAULT_STD
    modules = dict(model.named_modules())
    assert modules[cfg["first_conv"]] is model.stem.conv
    assert modules[cfg["classifier"]] is model.get_classifier()
    # pool_size is the last stage's map at 224×224, which depends on the strides
    with torch.no_grad():
        side = model.eval().forward_features(torch.zeros(1, 3, 224, 224)).shape[-1]
    assert cfg["pool_size"] == (side, side) == (pool, pool)
    data = resolve_data_config(model=model)
    assert data["input_size"] == (3, 224, 224) and data["crop_pct"] == 0.875


@pytest.mark.parametrize(
    ("arch", "reductions"),
    [(T22, [2, 2, 4, 8, 16]), (REGNET_SE, [2, 4, 8, 16, 32]), (MIXED, [2, 4, 4, 8, 8])],
    ids=IDS,
)
def test_feature_info_follows_the_strides(arch, reductions):
    model = build_model(arch, 10)
    assert [f["reduction"] for f in model.feature_info] == reductions
    assert [f["num_chs"] for f in model.feature_info] == [arch.stem_width, *arch.widths]
    assert [f["module"] for f in model.feature_info] == ["stem", "s1", "s2", "s3", "s4"]
    assert model.num_features == arch.widths[-1]


@pytest.mark.parametrize("arch", [T22, REGNET_SE], ids=["t22", "regnet"])
def test_features_only_gives_a_feature_list_net(arch):
    torch.manual_seed(0)
    features = timm.create_model("anynetx", arch=arch, features_only=True, in_chans=2)
    torch.manual_seed(0)
    plain = timm.create_model("anynetx", arch=arch, in_chans=2)  # the same draws: the same weights
    assert isinstance(features, FeatureListNet)
    expected = [f["reduction"] for f in plain.feature_info]
    assert features.feature_info.reduction() == expected
    assert features.feature_info.channels() == [arch.stem_width, *arch.widths]
    x = torch.randn(2, 2, 64, 64)
    features.eval()
    plain.eval()
    with torch.no_grad():
        outs = features(x)
        last = plain.forward_features(x)
    channels = features.feature_info.channels()
    assert [o.shape for o in outs] == [
        (2, c, 64 // r, 64 // r) for c, r in zip(channels, expected, strict=True)
    ]
    torch.testing.assert_close(outs[-1], last)
    assert "head" not in dict(features.named_children())  # the classifier is dropped


def test_features_only_with_out_indices():
    model = timm.create_model("anynetx", arch=REGNET_SE, features_only=True, out_indices=(1, 3, 4))
    assert model.feature_info.channels() == [24, 96, 120]
    assert model.feature_info.reduction() == [4, 16, 32]
    with torch.no_grad():
        outs = model.eval()(torch.randn(1, 3, 96, 96))
    assert [tuple(o.shape) for o in outs] == [(1, 24, 24, 24), (1, 96, 6, 6), (1, 120, 3, 3)]
    assert model.pretrained_cfg["first_conv"] == "stem.conv"


def test_forward_features_and_head_compose_to_forward():
    torch.manual_seed(0)
    model = timm.create_model("anynetx", arch=REGNET_SE, num_classes=5, drop_rate=0.5).eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        logits = model(x)
        fmap = model.forward_features(x)
        pooled = model.forward_head(fmap, pre_logits=True)
        torch.testing.assert_close(model.forward_head(fmap), logits)
    assert fmap.shape == (3, model.num_features, 2, 2) and pooled.shape == (3, model.num_features)
    torch.testing.assert_close(pooled, fmap.mean((2, 3)))
    torch.testing.assert_close(model.get_classifier()(pooled), logits)
    # in training mode the dropout before the Linear is active: half the pooled features are zeroed
    model.train()
    with torch.no_grad():
        dropped = model.forward_head(fmap, pre_logits=True)
    assert 0.3 < (dropped == 0).float().mean() < 0.7


def test_reset_classifier_and_get_classifier():
    torch.manual_seed(0)
    model = timm.create_model("anynetx", arch=T22, num_classes=10)
    x = torch.randn(2, 3, 32, 32)
    model.reset_classifier(4)
    fc = model.get_classifier()
    assert isinstance(fc, torch.nn.Linear) and (fc.in_features, fc.out_features) == (96, 4)
    assert model.num_classes == 4 and model(x).shape == (2, 4)
    assert torch.all(fc.bias == 0) and fc.weight.std().item() < 0.05  # pycls init: N(0, 0.01)
    assert n_params(model) == complexity(T22, num_classes=4)["params"]
    model.reset_classifier(0)
    assert isinstance(model.get_classifier(), torch.nn.Identity) and model(x).shape == (2, 96)
    assert n_params(model) == complexity(T22, num_classes=0)["params"]
    model.reset_classifier(0, global_pool="")
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.forward_features(x))  # no pooling: the map itself
    with pytest.raises(ValueError, match=r"global_pool='' \(no pooling\) needs num_classes=0, got 3"):
        model.reset_classifier(3)  # keeps global_pool='', which cannot feed a Linear
    model.reset_classifier(3, global_pool="avg")
    assert model(x).shape == (2, 3)
    double = build_model(T22, 10).double()
    double.reset_classifier(2)  # the new Linear follows the model's dtype
    assert double.get_classifier().weight.dtype == torch.float64


def test_headless_model_from_the_start():
    model = timm.create_model("anynetx", arch=T22, num_classes=0)
    assert isinstance(model.get_classifier(), torch.nn.Identity)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, model.num_features)
    assert n_params(model) == complexity(T22, num_classes=0)["params"]


def test_list_models():
    assert "anynetx" in timm.list_models("anynet*")
    assert timm.is_model("anynetx")


@pytest.mark.parametrize("seed", [0, 1])
def test_parameter_count_equals_complexity(seed):
    archs = [*sample_archs(2, seed=seed).archs(), REGNET_SE, MIXED]
    for arch in archs:
        for num_classes, in_chans in ((1000, 3), (10, 1), (0, 4)):
            model = timm.create_model("anynetx", arch=arch, num_classes=num_classes, in_chans=in_chans)
            cx = complexity(arch, num_classes=num_classes, in_chans=in_chans)
            assert n_params(model) == cx["params"], (arch, num_classes, in_chans)


@pytest.mark.parametrize("name", timm.list_models("anynet*"))
def test_forward_backward_every_registered_model(name):
    """timm's own smoke test pattern (tests/test_models.py): shape, finite output, a gradient everywhere."""
    torch.manual_seed(0)
    model = timm.create_model(name, arch=REGNET_SE, num_classes=6, drop_rate=0.1) if name == "anynetx" else (
        timm.create_model(name, num_classes=6))  # fmt: skip
    model.train()
    out = model(torch.randn(2, 3, 48, 48))
    assert out.shape == (2, 6) and not torch.isnan(out).any()
    out.mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing


# --- rows of architectures.parquet ---


def _table(sample) -> pd.DataFrame:
    """architectures.parquet as pipeline.sample writes it, plus the optional se_ratio/stem_width columns."""
    stage_fields = {"d": "depths", "w": "widths", "b": "bottleneck_ratios", "g": "group_widths"}
    rows = []
    for i, arch in enumerate(sample.archs()):
        row = {"arch_id": i, **{k: list(getattr(arch, k)) for k in (*stage_fields.values(), "strides")}}
        row.update(flops=sample.flops[i], params=sample.params[i], cum_depth=arch.cum_depth)
        for letter, name in stage_fields.items():
            row.update({f"{letter}{s + 1}": getattr(arch, name)[s] for s in range(4)})
        rows.append(row)
    table = pd.DataFrame(rows)
    table["se_ratio"] = np.nan  # a table of AnyNetX rows beside RegNetY ones: no SE here
    table["stem_width"] = pd.array([np.nan] * len(table), dtype="float64")
    return table


def test_from_row_reads_a_sampled_table_row(tmp_path):
    sample = sample_archs(4, seed=3)
    table = _table(sample)
    table.loc[1, "se_ratio"], table.loc[1, "stem_width"] = 0.25, 24.0
    path = tmp_path / "architectures.parquet"
    table.to_parquet(path)
    read = pd.read_parquet(path)  # list columns come back as numpy arrays, stem_width as float64
    assert isinstance(read.iloc[0]["widths"], np.ndarray) and read["stem_width"].dtype == np.float64
    expected = sample.archs()
    for i, row in read.iterrows():
        arch = Arch.from_row(row)
        changed = {"se_ratio": 0.25, "stem_width": 24} if i == 1 else {}
        want = Arch(**{**expected[i].to_dict(), **changed})
        assert arch == want and type(arch.stem_width) is int
        assert Arch.from_dict(arch.to_dict()) == arch
    with_se = Arch.from_row(read.iloc[1])
    for row in read.itertuples(index=False):  # namedtuples
        assert Arch.from_row(row) == (expected[row.arch_id] if row.arch_id != 1 else with_se)
    assert Arch.from_row(read.iloc[0].to_dict()) == expected[0]  # and plain dicts


def test_from_row_defaults_for_missing_cells():
    arch = Arch((1, 2, 1, 1), (16, 32, 64, 96), (1, 2, 4, 1), (8, 8, 4, 16))
    optional = ("strides", "se_ratio", "stem_width")
    bare = {k: np.asarray(v) for k, v in arch.to_dict().items() if k not in optional}
    assert Arch.from_row(bare) == arch  # T22's strides, no SE, stem 32
    assert Arch.from_row(bare, default_strides=(2, 2, 2, 2)).strides == (2, 2, 2, 2)
    assert Arch.from_row({**bare, "strides": None, "se_ratio": None, "stem_width": pd.NA}) == arch
    given = Arch.from_row({**bare, "strides": [2, 2, 2, 2]}, default_strides=(1, 1, 1, 1))
    assert given.strides == (2, 2, 2, 2)
    assert Arch.from_row(pd.Series({**bare, "se_ratio": np.float64(0.25)})).se_ratio == 0.25


def test_from_row_errors():
    arch_dict = T22.to_dict()
    with pytest.raises(ArchError, match=r"lacks \['group_widths'\]"):
        Arch.from_row({k: v for k, v in arch_dict.items() if k != "group_widths"})
    with pytest.raises(ArchError, match=r"needs a row of architectures\.parquet .* got list"):
        Arch.from_row([1, 2, 3])
    with pytest.raises(ArchError, match=r"stem_width=24\.5"):
        Arch.from_row({**arch_dict, "stem_width": 24.5})
    with pytest.raises(ArchError, match=r"widths\[3\]=2048"):
        Arch.from_row({**arch_dict, "widths": np.array([16, 32, 64, 2048])})
