"""timm registry entry: `timm.create_model("anynetx", arch=Arch(...), num_classes=10)`.

Registered when `anynet` is imported. timm's `register_model` appends the entrypoint's name to the
`__all__` of the module that defines it; that module is this one, so no other module is touched.
"""

from __future__ import annotations

from typing import Any

from timm.models import register_model

from anynet.arch import Arch
from anynet.errors import ArchError
from anynet.model import AnyNetX, build_model

__all__ = ["anynetx"]


@register_model
def anynetx(
    pretrained: bool = False, *, arch: Arch | dict | None = None, num_classes: int = 1000, **kwargs: Any
) -> AnyNetX:
    """An AnyNetX network for `arch` (an `Arch` or its `to_dict()`); no pretrained weights exist."""
    if pretrained:
        raise ValueError("anynetx has no pretrained weights; call timm.create_model('anynetx', arch=...)")
    if arch is None:
        raise ArchError("timm.create_model('anynetx', ...) needs arch=anynet.Arch(...) (or Arch.to_dict())")
    # timm passes its own bookkeeping keys; an unknown model argument is a typo to report here
    ignored = {"pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"}
    unknown = sorted(set(kwargs) - ignored)
    if unknown:
        raise TypeError(f"anynetx got unexpected argument(s) {unknown}; it takes arch and num_classes")
    if not isinstance(arch, Arch):
        arch = Arch.from_dict(arch)
    return build_model(arch, num_classes)
