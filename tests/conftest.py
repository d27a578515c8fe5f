"""Shared fixtures: a string-seeded RNG, torch kept to the machine's cores, figures closed after each test."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded from the test's name, so every test draws its own reproducible numbers."""
    digest = hashlib.sha256(request.node.nodeid.encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


@pytest.fixture(autouse=True)
def _torch_threads():
    """Keep torch to the machine's cores so parallel processes in a test do not oversubscribe it."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(before, os.cpu_count() or 1)))
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
