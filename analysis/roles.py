"""Which task is the reference, which are proxies (ImageNet-X), and which proxy each target is matched with.

From a study (the `reference:` key, tasks' `role:` and a target's `proxy:`), or, without one, by name: a
task named `imagenet` is the reference, tasks named `imagenet-<k>` are proxies with k classes, every other
task is a target. A target without a `proxy:` key is matched by class count as T22 pairs them (STUDY.md §5):
2 classes → ImageNet-2, 6 (Natural) → ImageNet-10, 7 → ImageNet-5, 9–10 → ImageNet-10, 100 or more →
ImageNet-100; when that member is absent, or for other counts, the proxy nearest in log class count (ties to
the larger).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PROXY_NAME = re.compile(r"^imagenet-(\d+)$", re.IGNORECASE)
T22_PAIRING = {2: 2, 6: 10, 7: 5, 9: 10, 10: 10}  # target classes -> ImageNet-X member classes


@dataclass(frozen=True)
class Roles:
    """Task roles of a study: `reference` (or None), `proxies`, `targets`, matched proxy and class count."""

    reference: str | None
    proxies: tuple[str, ...]
    targets: tuple[str, ...]
    matched: Mapping[str, str | None] = field(default_factory=dict)
    classes: Mapping[str, int] = field(default_factory=dict)

    def role(self, task: str) -> str:
        """'reference', 'proxy' or 'target'."""
        if task == self.reference:
            return "reference"
        return "proxy" if task in self.proxies else "target"


def t22_member(num_classes: int, proxy_classes: Mapping[str, int]) -> str | None:
    """The proxy T22 would pair with a target of `num_classes` classes, among `proxy_classes` (name -> k)."""
    if not proxy_classes:
        return None
    wanted = 100 if num_classes >= 100 else T22_PAIRING.get(num_classes)
    for name, k in proxy_classes.items():
        if k == wanted:
            return name
    return min(
        proxy_classes, key=lambda p: (abs(math.log(proxy_classes[p] / num_classes)), -proxy_classes[p])
    )


def infer_roles(
    tasks: Sequence[str],
    classes: Mapping[str, int] | None = None,
    study: Mapping | None = None,
) -> Roles:
    """Roles of `tasks` from a resolved study mapping, or by name when `study` is None (see module doc)."""
    classes = dict(classes or {})
    spec = dict((study or {}).get("tasks") or {})
    if study is not None:
        reference = study.get("reference") or next(
            (t for t, s in spec.items() if (s or {}).get("role") == "reference"), None
        )
        proxies = [t for t in tasks if (spec.get(t) or {}).get("role") == "proxy"]
    else:
        reference = next((t for t in tasks if t.lower() == "imagenet"), None)
        proxies = [t for t in tasks if PROXY_NAME.match(t)]
    if reference is not None and reference not in tasks:
        reference = None  # named by the study but without usable runs yet
    for proxy in proxies:
        m = PROXY_NAME.match(proxy)
        if proxy not in classes and m:
            classes[proxy] = int(m.group(1))
    targets = [t for t in tasks if t != reference and t not in proxies]
    # ladder rungs are cheaper copies of one task, not class-count members: never matched automatically
    rungs = {t for t in tasks if (spec.get(t) or {}).get("rung")} if study else set()
    proxy_classes = {p: classes[p] for p in proxies if p in classes and p not in rungs}
    matched: dict[str, str | None] = {}
    for target in targets:
        named = (spec.get(target) or {}).get("proxy")
        if named is not None:
            matched[target] = named if named in tasks else None  # a proxy without usable runs yet
        elif target in classes:
            matched[target] = t22_member(classes[target], proxy_classes)
        else:
            matched[target] = None
    return Roles(reference, tuple(proxies), tuple(targets), matched, classes)
