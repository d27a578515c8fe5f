"""Per-epoch training checkpoints: saved atomically, loaded with `torch.load(weights_only=True)`.

A checkpoint holds only tensors and primitive containers (model and optimizer state dicts, epoch and step
counters, the per-epoch history as a list of dicts of numbers, RNG states as uint8 tensors), so loading it
never unpickles arbitrary objects. It is written to a temp name and renamed: a job killed while saving
leaves the previous checkpoint intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pipeline import fsio
from pipeline.errors import RunError


def rng_state() -> dict[str, Any]:
    """The torch RNG states (CPU and every CUDA device) as tensors."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module under torch.compile's wrapper, so state-dict keys do not depend on compilation."""
    return getattr(model, "_orig_mod", model)


def save_checkpoint(
    path: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    step: int,
    history: list[dict[str, float]],
) -> Path:
    """Save the state after `epoch` (0-based, completed) atomically."""
    state = {
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": int(epoch),
        "step": int(step),
        "history": [dict(h) for h in history],
        "rng": rng_state(),
    }
    return fsio.write_with(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(
    path: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Restore model, optimizer and RNG from `path`; returns {'epoch', 'step', 'history'}."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
        unwrap(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except Exception as error:  # a truncated file, a foreign pickle refused by weights_only, a shape mismatch
        raise RunError(
            f"checkpoint {path} cannot be resumed ({error}); delete it to restart the run"
        ) from error
    set_rng_state(
        {k: (v.cpu() if torch.is_tensor(v) else [t.cpu() for t in v]) for k, v in state["rng"].items()}
    )
    return {"epoch": int(state["epoch"]), "step": int(state["step"]), "history": list(state["history"])}
