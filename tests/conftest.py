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
    import torch

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


# ---------------------------------------------------------------------------------------------- SLURM
_UP_STATES = {"idle", "mixed", "allocated", "completing"}  # sinfo %T; "idle*" etc. = not responding


def _find_slurm_cluster():
    """The reachable SLURM cluster as a namespace, or the reason there is none (a str)."""
    import re
    import shutil
    import subprocess
    from types import SimpleNamespace

    if shutil.which("sinfo") is None or shutil.which("scontrol") is None:
        return "sinfo/scontrol not on PATH"
    # Without a config file the commands retry for a minute; with the controller down sinfo takes ~10 s
    # while `scontrol ping` answers at once.
    conf = os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf")
    if not os.path.isfile(conf):
        return f"no {conf}"
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
        if " is UP" not in ping.stdout:
            return (ping.stdout.strip() or ping.stderr.strip() or "scontrol ping: no answer").splitlines()[0]
        nodes = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%N|%P|%T|%c|%m"], capture_output=True, text=True, timeout=20
        )
        config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"sinfo/scontrol did not answer: {error}"
    if nodes.returncode or config.returncode:
        lines = (nodes.stderr or config.stderr).strip().splitlines()
        return f"sinfo/scontrol failed: {lines[-1] if lines else 'no message'}"
    rows = [line.split("|") for line in nodes.stdout.splitlines() if line.count("|") == 4]
    up = [row for row in rows if row[2] in _UP_STATES]
    if not up:
        return f"no node is up ({', '.join(f'{r[0]}: {r[2]}' for r in rows) or 'no nodes'})"
    # The default partition carries a "*" in sinfo's output.
    defaults = [row for row in up if row[1].endswith("*")]
    name, partition, _, cpus, mem_mb = (defaults or up)[0]
    match = re.search(r"^MaxArraySize\s*=\s*(\d+)", config.stdout, re.MULTILINE)
    if match is None:
        return "scontrol show config printed no MaxArraySize"
    return SimpleNamespace(
        partition=partition.rstrip("*"),
        max_array_size=int(match.group(1)),
        hostname=name,
        cpus=int(cpus.rstrip("+")),
        mem_mb=int(mem_mb.rstrip("+")),
    )


@pytest.fixture(scope="session")
def slurm_cluster():
    """The real SLURM cluster the `slurm` tests submit to; skips when none answers.

    Yields a namespace: `partition` (the default partition's name), `max_array_size` (MaxArraySize from
    `scontrol show config`: array indices must be below it), `hostname` (an up node), `cpus` and `mem_mb`
    (that node's). CI starts the cluster with slurm/start-cluster.sh; set ARCHCORR_START_SLURM=1 to have
    this fixture run that script first (root on Debian only).
    """
    import subprocess
    from pathlib import Path

    if os.environ.get("ARCHCORR_START_SLURM") == "1":
        script = Path(__file__).resolve().parents[1] / "slurm" / "start-cluster.sh"
        started = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600)
        if started.returncode:
            pytest.fail(f"ARCHCORR_START_SLURM=1 but {script} failed:\n{started.stderr[-2000:]}")
    found = _find_slurm_cluster()
    if isinstance(found, str):
        pytest.skip(f"no SLURM cluster: run slurm/start-cluster.sh ({found})")
    yield found
