"""Exact complexity: the published reference table, other sizes and class counts, pycls's own counter."""

from __future__ import annotations

import numpy as np
import pytest

from anynet import Arch, adjust_compatibility_arrays, complexity, complexity_arrays
from anynet.sampler import draw_archs

# STUDY.md §2: pycls dev/model_complexity.json and pycls 0.1.1's counter, 224×224, 1000 classes.
# (name, strides, depths, widths, b, g, se_ratio, flops, params, acts)
REFERENCE = [
    ("RegNetX-200MF", (2, 2, 2, 2), (1, 1, 4, 7), (24, 56, 152, 368), (1,) * 4, (8,) * 4, 0.0,
     199_040_872, 2_684_792, 2_164_056),
    ("RegNetX-400MF", (2, 2, 2, 2), (1, 2, 7, 12), (32, 64, 160, 384), (1,) * 4, (16,) * 4, 0.0,
     397_678_568, 5_157_512, 3_143_272),
    ("RegNetX-600MF", (2, 2, 2, 2), (1, 3, 5, 7), (48, 96, 240, 528), (1,) * 4, (24,) * 4, 0.0,
     600_891_112, 6_196_040, 3_975_096),
    ("RegNetX-800MF", (2, 2, 2, 2), (1, 3, 7, 5), (64, 128, 288, 672), (1,) * 4, (16,) * 4, 0.0,
     799_700_712, 7_259_656, 5_148_744),
    ("RegNetX-1.6GF", (2, 2, 2, 2), (2, 4, 10, 2), (72, 168, 408, 912), (1,) * 4, (24,) * 4, 0.0,
     1_602_850_792, 9_190_136, 7_933_512),
    ("RegNetY-400MF", (2, 2, 2, 2), (1, 3, 6, 6), (48, 104, 208, 440), (1,) * 4, (8,) * 4, 0.25,
     401_849_056, 4_344_144, 3_892_496),
    ("AnyNetX-a", (2, 2, 2, 2), (2, 3, 5, 4), (48, 112, 256, 640), (2, 4, 1, 2), (8, 4, 32, 16), 0.0,
     390_019_304, 3_577_480, 3_212_264),
    ("AnyNetX-b", (2, 2, 2, 2), (1, 5, 3, 2), (24, 96, 400, 800), (4, 2, 2, 1), (2, 16, 8, 32), 0.0,
     386_779_880, 4_423_260, 2_646_216),
    ("AnyNetX-a-s1", (1, 2, 2, 2), (2, 3, 5, 4), (48, 112, 256, 640), (2, 4, 1, 2), (8, 4, 32, 16), 0.0,
     1_496_738_792, 3_577_480, 10_738_664),
    ("AnyNetX-c-s1", (1, 2, 2, 2), (2, 1, 6, 2), (24, 40, 96, 512), (1, 2, 4, 1), (3, 5, 6, 32), 0.0,
     375_014_120, 1_748_860, 4_886_888),
    ("AnyNetX-d-s1", (1, 2, 2, 2), (1, 2, 4, 3), (16, 48, 128, 352), (2, 4, 1, 2), (8, 4, 16, 8), 0.0,
     309_060_840, 983_752, 3_911_592),
]  # fmt: skip
IDS = [row[0] for row in REFERENCE]


def reference_arch(row) -> Arch:
    _, strides, d, w, b, g, se, *_ = row
    return Arch(d, w, b, g, se_ratio=se, strides=strides)


def _arrays(archs: list[Arch], **kwargs) -> dict[str, np.ndarray]:
    stack = {k: np.array([getattr(a, k) for a in archs]) for k in ("depths", "widths", "bottleneck_ratios",
                                                                     "group_widths", "strides")}  # fmt: skip
    return complexity_arrays(
        stack["depths"], stack["widths"], stack["bottleneck_ratios"], stack["group_widths"],
        strides=stack["strides"], se_ratio=archs[0].se_ratio, **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize("row", REFERENCE, ids=IDS)
def test_reference_table_exactly(row):
    flops, params, acts = row[-3:]
    arch = reference_arch(row)
    assert complexity(arch) == {"flops": flops, "params": params, "acts": acts}
    vector = _arrays([arch])
    assert {k: int(v[0]) for k, v in vector.items()} == {"flops": flops, "params": params, "acts": acts}


def test_ten_classes_and_32px_figures():
    regnet_400 = reference_arch(REFERENCE[1])
    ten = complexity(regnet_400, num_classes=10)
    assert (ten["flops"], ten["params"]) == (397_297_418, 4_776_362)
    assert complexity(regnet_400, im_size=32, num_classes=10)["flops"] == 8_111_882
    anynet_c = reference_arch(REFERENCE[9])
    assert complexity(anynet_c, im_size=32, num_classes=10) == {
        "flops": 7_648_010,
        "params": 1_240_990,
        "acts": 99_722,
    }
    # the trap of STUDY.md §2: the band is never computed at the training resolution
    assert complexity(anynet_c)["flops"] > 45 * complexity(anynet_c, im_size=32, num_classes=10)["flops"]


def test_first_block_without_projection_when_width_and_stride_stay():
    # stem width 32 → stage 1 width 32: stride 1 keeps the identity shortcut, stride 2 adds a 1×1 conv + BN;
    # nothing else in the parameter count depends on the stride
    same = Arch((1, 1, 1, 1), (32, 64, 128, 256), (1,) * 4, (8,) * 4, strides=(1, 2, 2, 2))
    strided = Arch((1, 1, 1, 1), (32, 64, 128, 256), (1,) * 4, (8,) * 4, strides=(2, 2, 2, 2))
    assert complexity(strided)["params"] - complexity(same)["params"] == 32 * 32 + 2 * 32


def _random_adjusted(rng, n: int) -> tuple[np.ndarray, ...]:
    d, w, b, g = draw_archs(rng.random((n, 16)))
    w, g = adjust_compatibility_arrays(w, b, g)
    keep = w.max(axis=1) <= 1024
    return d[keep], w[keep], b[keep], g[keep]


@pytest.mark.parametrize(
    ("strides", "se_ratio", "im_size", "num_classes"),
    [((1, 2, 2, 2), 0.0, 224, 1000), ((2, 2, 2, 2), 0.25, 224, 1000), ((1, 2, 2, 2), 0.0, 32, 10),
     ((2, 1, 2, 1), 0.25, 97, 7)],
)  # fmt: skip
def test_vectorised_equals_scalar(rng, strides, se_ratio, im_size, num_classes):
    d, w, b, g = _random_adjusted(rng, 300)
    vector = complexity_arrays(d, w, b, g, strides=strides, se_ratio=se_ratio, im_size=im_size,
                               num_classes=num_classes)  # fmt: skip
    for i in range(len(d)):
        arch = Arch(d[i], w[i], b[i], g[i], se_ratio=se_ratio, strides=strides)
        scalar = complexity(arch, im_size=im_size, num_classes=num_classes)
        assert scalar == {k: int(v[i]) for k, v in vector.items()}, arch


def test_equals_pycls_counter_on_1000_random_adjusted_architectures(rng):
    """pycls 0.1.1's own static counter, called with explicit arguments (its global cfg is not touched)."""
    from pycls.models.anynet import AnyNet

    d, w, b, g = _random_adjusted(rng, 1100)
    assert len(d) >= 1000
    settings = [
        ((1, 2, 2, 2), None, 224, 1000),
        ((2, 2, 2, 2), 0.25, 224, 1000),
        ((1, 2, 2, 2), None, 32, 10),
        ((2, 1, 1, 2), 0.25, 64, 100),
    ]
    for i in range(len(d)):
        strides, se_r, im_size, nc = settings[i % len(settings)]
        arch = Arch(d[i], w[i], b[i], g[i], se_ratio=se_r or 0.0, strides=strides)
        theirs = AnyNet.complexity(
            {"h": im_size, "w": im_size, "flops": 0, "params": 0, "acts": 0},
            stem_type="simple_stem_in", stem_w=32, block_type="res_bottleneck_block",
            ds=list(arch.depths), ws=list(arch.widths), ss=list(strides),
            bms=[1 / r for r in arch.bottleneck_ratios], gws=list(arch.group_widths), se_r=se_r, nc=nc,
        )  # fmt: skip
        ours = complexity(arch, im_size=im_size, num_classes=nc)
        assert ours == {k: theirs[k] for k in ours}, (arch, im_size, nc)


def test_headless_and_other_input_channels():
    arch = reference_arch(REFERENCE[9])
    full, headless = complexity(arch), complexity(arch, num_classes=0)
    # num_classes=0: no Linear, so the head's 512·1000 weights and 1000 biases go from every count
    assert full["params"] - headless["params"] == 512 * 1000 + 1000
    assert full["flops"] - headless["flops"] == 512 * 1000 + 1000
    assert full["acts"] - headless["acts"] == 1000
    # in_chans only changes the stem's 3×3 conv: 9·32 weights per input channel, on a 112×112 output
    gray, four = complexity(arch, in_chans=1), complexity(arch, in_chans=4)
    assert four["params"] - full["params"] == 9 * 32 and full["params"] - gray["params"] == 2 * 9 * 32
    assert four["flops"] - full["flops"] == 9 * 32 * 112 * 112
    assert full["acts"] == gray["acts"]
    d, w, b, g = (np.array([getattr(arch, k)]) for k in ("depths", "widths", "bottleneck_ratios",
                                                        "group_widths"))  # fmt: skip
    for kwargs in ({"num_classes": 0}, {"in_chans": 1}, {"in_chans": 4, "num_classes": 7}):
        vector = complexity_arrays(d, w, b, g, strides=arch.strides, **kwargs)
        assert {k: int(v[0]) for k, v in vector.items()} == complexity(arch, **kwargs), kwargs


def test_bad_sizes_are_refused():
    arch = reference_arch(REFERENCE[0])
    with pytest.raises(ValueError, match="im_size=0"):
        complexity(arch, im_size=0)
    with pytest.raises(ValueError, match="num_classes=-1"):
        complexity(arch, num_classes=-1)
    with pytest.raises(ValueError, match="in_chans=0"):
        complexity_arrays(*(np.array([getattr(arch, k)]) for k in ("depths", "widths", "bottleneck_ratios",
                                                                  "group_widths")), in_chans=0)  # fmt: skip
