"""timm registry entry: `timm.create_model("anynetx", arch=Arch(...), num_classes=10)`.

Importing this module registers "anynetx" with timm. `import anynet` does so when timm is already imported,
and otherwise on first use of `anynet.build_model`, `anynet.AnyNetX` or `anynet.anynetx`; code that only
calls `timm.create_model` should `import anynet.timm_entry` first. timm's `register_model` appends the
entrypoint's name to the `__all__` of the module that defines it; that module is this one.

One generic name: `arch=` (an `Arch` or its `to_dict()`) says which network. The model is built through
timm's `build_model_with_cfg`, as timm's own models are, so timm's keywords work: num_classes, in_chans,
drop_rate, global_pool, and features_only (with out_indices, feature_cls) for a `FeatureListNet` over the
stem and the four stages. Any other keyword is refused here, by name, rather than deep inside timm.
"""

from __future__ import annotations

from typing import Any

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

from anynet.arch import Arch
from anynet.errors import ArchError
from anynet.model import AnyNetX

__all__ = ["anynetx"]

NAME = "anynetx"
IM_SIZE = 224
MODEL_KWARGS = ("num_classes", "in_chans", "drop_rate", "global_pool")
FEATURE_KWARGS = ("features_only", "out_indices", "feature_cls")  # consumed by build_model_with_cfg

# Data config of the networks as pycls trains and tests them (T22 follows): ImageNet mean/std, 224×224,
# test images resized to 256 then centre-cropped to 224 (crop_pct 224/256) with bilinear interpolation.
# No weights exist. pool_size depends on the strides and is set per model from `arch`.
default_cfgs = generate_default_cfgs(
    {
        NAME: {
            "num_classes": 1000,
            "input_size": (3, IM_SIZE, IM_SIZE),
            "pool_size": (IM_SIZE // 32, IM_SIZE // 32),
            "crop_pct": 0.875,
            "interpolation": "bilinear",
            "mean": IMAGENET_DEFAULT_MEAN,
            "std": IMAGENET_DEFAULT_STD,
            "first_conv": "stem.conv",
            "classifier": "head.fc",
            "license": "mit",
            "origin_url": "https://github.com/facebookresearch/pycls",
        }
    }
)


@register_model
def anynetx(pretrained: bool = False, *, arch: Arch | dict | None = None, **kwargs: Any) -> AnyNetX:
    """An AnyNetX network for `arch` (an `Arch` or its `to_dict()`); no pretrained weights exist."""
    if pretrained:
        raise ValueError("anynetx has no pretrained weights; call timm.create_model('anynetx', arch=...)")
    if arch is None:
        raise ArchError("timm.create_model('anynetx', ...) needs arch=anynet.Arch(...) (or Arch.to_dict())")
    pretrained_cfg = kwargs.pop("pretrained_cfg", None)
    overlay = kwargs.pop("pretrained_cfg_overlay", None) or {}
    cache_dir = kwargs.pop("cache_dir", None)
    unknown = sorted(set(kwargs) - set(MODEL_KWARGS) - set(FEATURE_KWARGS))
    if unknown:
        allowed = ["arch", *MODEL_KWARGS, *FEATURE_KWARGS]
        raise TypeError(f"anynetx got unexpected argument(s) {unknown}; it takes {allowed}")
    if not isinstance(arch, Arch):
        arch = Arch.from_dict(arch)
    reduction = 2
    for stride in arch.strides:
        reduction *= stride
    side = -(-IM_SIZE // reduction)  # the last stage's map at 224×224 (each stride-2 conv rounds up)
    return build_model_with_cfg(
        AnyNetX,
        NAME,
        pretrained=False,
        pretrained_cfg=pretrained_cfg,
        pretrained_cfg_overlay={"pool_size": (side, side), **overlay},
        feature_cfg={"out_indices": tuple(range(len(arch.strides) + 1))},  # stem, s1..s4
        cache_dir=cache_dir,
        arch=arch,
        **kwargs,
    )
