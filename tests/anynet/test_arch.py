"""Arch validation, round trips and the group-compatibility adjustment."""

from __future__ import annotations

import numpy as np
import pytest

from anynet import Arch, ArchError, adjust_compatibility, adjust_compatibility_arrays
from anynet.sampler import draw_archs

GOOD = {"depths": (2, 1, 6, 2), "widths": (24, 40, 96, 512), "bottleneck_ratios": (1, 2, 4, 1),
        "group_widths": (3, 5, 6, 32)}  # fmt: skip


def test_good_arch_is_normalised_and_frozen():
    arch = Arch(
        depths=[2, 1, 6, 2],
        widths=np.array([24, 40, 96, 512]),
        bottleneck_ratios=(1, 2, 4, 1),
        group_widths=(3, 5, 6, 32),
    )
    assert arch.widths == (24, 40, 96, 512) and all(type(w) is int for w in arch.widths)
    assert arch.strides == (1, 2, 2, 2) and arch.stem_width == 32 and arch.se_ratio == 0.0
    assert arch.cum_depth == 11 and arch.cum_width == 672
    assert hash(arch) == hash(Arch(**GOOD))
    with pytest.raises(AttributeError):
        arch.depths = (1, 1, 1, 1)


def test_to_dict_from_dict_round_trip():
    arch = Arch(**GOOD, se_ratio=0.25, strides=(2, 2, 2, 2))
    data = arch.to_dict()
    assert data["widths"] == [24, 40, 96, 512] and data["strides"] == [2, 2, 2, 2]
    assert Arch.from_dict(data) == arch


def test_from_dict_names_unknown_and_missing_keys():
    with pytest.raises(ArchError, match=r"unknown Arch field\(s\) \['width'\]"):
        Arch.from_dict({**GOOD, "width": 3})
    with pytest.raises(ArchError, match=r"lacks \['group_widths'\]"):
        Arch.from_dict({k: v for k, v in GOOD.items() if k != "group_widths"})


def test_published_non_multiple_of_8_widths_are_in_the_space():
    Arch((1, 1, 1, 1), (68, 189, 390, 702), (4, 1, 2, 2), (17, 27, 15, 27))


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        ({"depths": (2, 1, 6)}, ["depths=[2, 1, 6] has 3 stages", "exactly 4"]),
        ({"widths": "abcd"}, ["widths='abcd' must be a sequence of 4 integers"]),
        ({"depths": (0, 1, 6, 17)}, ["depths[0]=0 (stage 1)", "depths[3]=17 (stage 4)", "allowed 1..16"]),
        ({"widths": (24, 40, 96, 1032)}, ["widths[3]=1032 (stage 4) is outside the allowed 1..1024"]),
        ({"widths": (-8, 40, 96, 512)}, ["widths[0]=-8"]),
        ({"bottleneck_ratios": (1, 3, 4, 1)}, ["bottleneck_ratios[1]=3 (stage 2)", "allowed [1, 2, 4]"]),
        ({"group_widths": (3, 5, 6, 33)}, ["group_widths[3]=33", "allowed 1..32"]),
        ({"group_widths": (3, 5, 7, 32)}, ["group_widths[2]=7 (stage 3) does not divide", "96/4=24"]),
        (
            {"widths": (24, 41, 96, 512)},
            ["widths[1]=41 (stage 2) is not divisible by its bottleneck ratio 2"],
        ),
        ({"strides": (1, 3, 2, 2)}, ["strides[1]=3 (stage 2) is not one of the allowed [1, 2]"]),
        ({"se_ratio": 1.5}, ["se_ratio=1.5", "0.0..1.0"]),
        ({"stem_width": 0}, ["stem_width=0", "allowed 1..1024"]),
    ],
)
def test_bad_arch_messages_name_field_value_and_allowed(change, needles):
    with pytest.raises(ArchError) as info:
        Arch(**{**GOOD, **change})
    message = str(info.value)
    assert message.startswith("architecture outside the AnyNetX space")
    for needle in needles:
        assert needle in message, message


def test_every_problem_is_reported_at_once():
    with pytest.raises(ArchError) as info:
        Arch((0, 1, 1, 1), (24, 40, 96, 2048), (1, 3, 4, 1), (3, 5, 6, 32), strides=(1, 2, 2, 5))
    message = str(info.value)
    assert "(4 problems)" in message
    for needle in ("depths[0]=0", "widths[3]=2048", "bottleneck_ratios[1]=3", "strides[3]=5"):
        assert needle in message
    assert isinstance(info.value, ValueError)


def test_adjustment_matches_study_example_and_published_widths():
    assert adjust_compatibility([72], [4], [17]) == ((68,), (17,))
    # already compatible stages are left alone; g is capped at the bottleneck width
    assert adjust_compatibility((24, 40, 96, 512), (1, 2, 4, 1), (3, 5, 6, 32)) == (
        (24, 40, 96, 512),
        (3, 5, 6, 32),
    )
    assert adjust_compatibility([8], [4], [32]) == ((8,), (2,))
    # round half to even, as Python's round in pycls: w_b=18, g=4 → 4.5 → 4 → 16
    assert adjust_compatibility([18], [1], [4]) == ((16,), (4,))
    assert adjust_compatibility([30], [1], [4]) == ((32,), (4,))  # 7.5 → 8


def _pycls_rule(ws, bs, gs):
    """STUDY.md §2's statement of pycls 0.1.1 adjust_ws_gs_comp, with bm = 1/b."""
    from pycls.models.regnet import adjust_ws_gs_comp

    return adjust_ws_gs_comp(list(ws), [1 / b for b in bs], list(gs))


def test_scalar_and_vectorised_adjustment_equal_pycls(rng):
    _, widths, ratios, groups = draw_archs(rng.random((2000, 16)))
    new_w, new_g = adjust_compatibility_arrays(widths, ratios, groups)
    for i in range(0, 2000, 10):
        scalar = adjust_compatibility(widths[i], ratios[i], groups[i])
        pycls_w, pycls_g = _pycls_rule(widths[i], ratios[i], groups[i])
        assert scalar == (tuple(new_w[i]), tuple(new_g[i])) == (tuple(pycls_w), tuple(pycls_g))
    w_b = new_w // ratios
    assert np.all(new_w % ratios == 0) and np.all(w_b % new_g == 0) and np.all(new_g <= 32)
