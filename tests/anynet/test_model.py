"""The torch model: parameter counts equal `complexity`, outputs equal pycls's AnyNet, shapes, init, timm."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from anynet import AnyNetX, Arch, ArchError, build_model, complexity, sample_archs
from tests.anynet.test_complexity import IDS, REFERENCE, reference_arch

TINY = Arch((1, 1, 2, 1), (16, 24, 48, 64), (1, 2, 4, 1), (4, 6, 3, 16))
TINY_SE = Arch(
    (1, 2, 1, 1), (8, 16, 40, 64), (2, 1, 2, 4), (2, 8, 4, 16), se_ratio=0.25, strides=(2, 1, 2, 2)
)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("row", REFERENCE, ids=IDS)
def test_parameter_count_equals_complexity_on_reference_rows(row):
    arch = reference_arch(row)
    assert n_params(build_model(arch, 1000)) == complexity(arch)["params"] == row[-2]


def test_parameter_count_equals_complexity_on_sampled_architectures():
    for arch in sample_archs(4, seed=7).archs() + sample_archs(2, seed=8, strides=(2, 2, 2, 2)).archs():
        for num_classes in (10, 1000):
            assert (
                n_params(build_model(arch, num_classes))
                == complexity(arch, num_classes=num_classes)["params"]
            )


@pytest.mark.parametrize(("arch", "size", "batch"), [(TINY, 32, 4), (TINY_SE, 64, 3), (TINY, 224, 2)])
def test_forward_shape_and_backward(arch, size, batch):
    torch.manual_seed(0)
    model = build_model(arch, 10)
    out = model(torch.randn(batch, 3, size, size))
    assert out.shape == (batch, 10) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_channels_last_forward_matches_contiguous():
    torch.manual_seed(0)
    model = build_model(TINY_SE, 5).eval()
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        expected = model(x)
        model_cl = model.to(memory_format=torch.channels_last)
        got = model_cl(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_module_names_are_readable():
    names = dict(build_model(TINY_SE, 10).named_modules())
    for name in ("stem.conv", "stem.bn", "s1.b1.conv_a", "s1.b1.bn_a", "s1.b1.conv_b", "s1.b1.se.reduce",
                 "s1.b1.conv_c", "s1.b1.proj_conv", "s2.b2.conv_c", "s4.b1.proj_bn", "head.fc"):  # fmt: skip
        assert name in names, name
    assert "s2.b2.proj_conv" not in names  # later blocks of a stage keep the identity shortcut
    assert names["s1.b1.conv_b"].groups == 4 // 2  # w_b = 8/2 = 4 channels, group width 2


def test_pycls_initialisation():
    torch.manual_seed(0)
    arch = Arch((1, 1, 1, 2), (64, 128, 256, 512), (1, 1, 1, 1), (16, 16, 16, 16), strides=(2, 2, 2, 2))
    model = build_model(arch, 1000)
    conv = model.s4.b2.conv_a  # 512 → 512, 1×1: fan_out = 512
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.02)
    group_conv = model.s4.b2.conv_b  # 3×3, fan_out = 9·512 whatever the groups
    assert group_conv.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 512)), rel=0.03)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0)
            assert module.eps == 1e-5 and module.momentum == 0.1
    assert model.head.fc.weight.std().item() == pytest.approx(0.01, rel=0.02)
    assert torch.all(model.head.fc.bias == 0)


# pycls parameter/buffer names → ours, to load one model's weights into the other
_RENAMES = [
    (r"\.f\.a\.", ".conv_a."),
    (r"\.f\.a_bn\.", ".bn_a."),
    (r"\.f\.b\.", ".conv_b."),
    (r"\.f\.b_bn\.", ".bn_b."),
    (r"\.f\.c\.", ".conv_c."),
    (r"\.f\.c_bn\.", ".bn_c."),
    (r"\.f\.se\.f_ex\.0\.", ".se.reduce."),
    (r"\.f\.se\.f_ex\.2\.", ".se.expand."),
    (r"(s\d\.b\d+)\.proj\.", r"\1.proj_conv."),
    (r"(s\d\.b\d+)\.bn\.", r"\1.proj_bn."),
]


def _pycls_model(arch: Arch, num_classes: int) -> torch.nn.Module:
    from pycls.models.anynet import AnyNet

    return AnyNet(
        stem_type="simple_stem_in", stem_w=arch.stem_width, block_type="res_bottleneck_block",
        ds=list(arch.depths), ws=list(arch.widths), ss=list(arch.strides),
        bms=[1 / b for b in arch.bottleneck_ratios], gws=list(arch.group_widths),
        se_r=arch.se_ratio or None, nc=num_classes,
    )  # fmt: skip


@pytest.mark.parametrize("arch", [TINY, TINY_SE], ids=["x", "se"])
def test_outputs_equal_pycls_anynet_with_the_same_weights(arch):
    torch.manual_seed(0)
    theirs = _pycls_model(arch, 7)
    state = {}
    for name, value in theirs.state_dict().items():
        for pattern, replacement in _RENAMES:
            name = re.sub(pattern, replacement, name)
        state[name] = value
    ours = build_model(arch, 7)
    ours.load_state_dict(state, strict=True)  # same names and shapes, nothing missing or extra
    x = torch.randn(3, 3, 48, 48)
    for mode in ("train", "eval"):
        theirs.train(mode == "train")
        ours.train(mode == "train")
        with torch.no_grad():
            torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-6)


def test_timm_create_model():
    import timm

    model = timm.create_model("anynetx", arch=TINY, num_classes=10)
    assert isinstance(model, AnyNetX) and model.head.fc.out_features == 10
    assert n_params(model) == complexity(TINY, num_classes=10)["params"]
    from_dict = timm.create_model("anynetx", arch=TINY.to_dict(), num_classes=3)
    assert from_dict.arch == TINY
    assert "anynetx" in timm.list_models("anynet*")
    with pytest.raises(ArchError, match=r"needs arch=anynet\.Arch"):
        timm.create_model("anynetx")
    with pytest.raises(TypeError, match=r"unexpected argument\(s\) \['drop_path_rate'\]"):
        timm.create_model("anynetx", arch=TINY, drop_path_rate=0.1)  # AnyNetX has no stochastic depth


def test_bad_inputs():
    with pytest.raises(TypeError, match=r"needs an anynet\.Arch"):
        build_model({"depths": (1, 1, 1, 1)}, 10)
    with pytest.raises(ValueError, match=r"num_classes=-1 must be an integer >= 0 \(0: no classifier\)"):
        build_model(TINY, -1)
    with pytest.raises(ValueError, match=r"num_classes=2\.5"):
        build_model(TINY, 2.5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'drop_path_rate'"):
        build_model(TINY, 10, drop_path_rate=0.1)
    assert build_model(TINY, np.int64(4)).head.fc.out_features == 4
