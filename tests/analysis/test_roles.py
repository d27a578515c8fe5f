"""Reference / proxy / matched-proxy inference, with and without study.yaml."""

from __future__ import annotations

from analysis.roles import infer_roles, t22_member

T22 = [
    "imagenet",
    "imagenet-100",
    "imagenet-10",
    "imagenet-5",
    "imagenet-2",
    "concrete",
    "mlc2008",
    "ham10000",
    "powerline",
    "insects",
    "natural",
    "cifar10",
    "cifar100",
]
CLASSES = {
    "concrete": 2,
    "mlc2008": 9,
    "ham10000": 7,
    "powerline": 2,
    "insects": 291,
    "natural": 6,
    "cifar10": 10,
    "cifar100": 100,
}


def test_default_inference_pairs_targets_as_t22():
    roles = infer_roles(T22, CLASSES)
    assert roles.reference == "imagenet"
    assert roles.proxies == ("imagenet-100", "imagenet-10", "imagenet-5", "imagenet-2")
    assert roles.targets == (
        "concrete",
        "mlc2008",
        "ham10000",
        "powerline",
        "insects",
        "natural",
        "cifar10",
        "cifar100",
    )
    assert dict(roles.matched) == {
        "concrete": "imagenet-2",
        "mlc2008": "imagenet-10",
        "ham10000": "imagenet-5",
        "powerline": "imagenet-2",
        "insects": "imagenet-100",
        "natural": "imagenet-10",
        "cifar10": "imagenet-10",
        "cifar100": "imagenet-100",
    }
    assert roles.role("imagenet") == "reference" and roles.role("imagenet-5") == "proxy"
    assert roles.role("cifar10") == "target"


def test_nearest_proxy_when_the_t22_member_is_absent():
    proxies = {"imagenet-10": 10, "imagenet-100": 100}
    assert t22_member(2, proxies) == "imagenet-10"
    assert t22_member(40, proxies) == "imagenet-100"  # |log 100/40| = 0.92 < |log 10/40| = 1.39
    assert t22_member(7, {"imagenet-5": 5, "imagenet-10": 10}) == "imagenet-5"
    assert t22_member(6, {"imagenet-5": 5, "imagenet-10": 10}) == "imagenet-10"  # T22's pairing of Natural
    assert t22_member(3, {}) is None


def test_unknown_class_count_leaves_the_target_unmatched():
    roles = infer_roles(["imagenet", "imagenet-10", "mydata"])
    assert roles.targets == ("mydata",) and roles.matched["mydata"] is None


def test_study_yaml_names_reference_roles_and_proxy():
    study = {
        "reference": "in1k",
        "tasks": {
            "in1k": {"role": "reference"},
            "tiny": {"role": "proxy"},
            "small": {"role": "proxy"},
            "mine": {"proxy": "small"},
            "other": {},
            "later": {"proxy": "not-run-yet"},
        },
    }
    roles = infer_roles(
        ["in1k", "tiny", "small", "mine", "other", "later"], {"tiny": 2, "small": 10, "other": 3}, study
    )
    assert roles.reference == "in1k" and roles.proxies == ("tiny", "small")
    assert roles.matched == {"mine": "small", "other": "tiny", "later": None}


def test_study_reference_without_runs_is_none():
    roles = infer_roles(["a", "b"], {}, {"reference": "imagenet", "tasks": {}})
    assert roles.reference is None and roles.targets == ("a", "b")


def test_ladder_rungs_are_never_matched_by_class_count():
    """A rung of the reference has the reference's class count, but it is a cheaper copy of one task, not
    a class-count member: a target without an explicit proxy is not matched to it."""
    study = {
        "reference": "imagenet",
        "tasks": {
            "imagenet": {"role": "reference"},
            "imagenet@r32": {
                "role": "proxy",
                "rung": {"of": "imagenet", "factor": "resolution", "value": 32},
            },
            "imagenet-100": {"role": "proxy"},
            "insects": {"role": "target"},
        },
    }
    classes = {"imagenet": 1000, "imagenet@r32": 1000, "imagenet-100": 100, "insects": 291}
    roles = infer_roles(["imagenet", "imagenet@r32", "imagenet-100", "insects"], classes, study)
    assert roles.matched["insects"] == "imagenet-100"
    del study["tasks"]["imagenet-100"]
    roles = infer_roles(["imagenet", "imagenet@r32", "insects"], classes, study)
    assert roles.matched["insects"] is None and "imagenet@r32" in roles.proxies
