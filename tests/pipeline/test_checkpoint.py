"""Checkpoints: atomic, tensors only, loaded with weights_only=True."""

from __future__ import annotations

import pytest
import torch

from pipeline.checkpoint import load_checkpoint, save_checkpoint
from pipeline.errors import RunError


def _model_and_optimizer(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    model(torch.randn(5, 4)).sum().backward()
    optimizer.step()
    return model, optimizer


def test_round_trip_restores_model_optimizer_and_rng(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    path = tmp_path / "c" / "run.pt"
    history = [{"epoch": 0, "train_loss": 1.5}]
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=3, step=40, history=history)
    expected_draw = torch.rand(3)
    assert [p.name for p in path.parent.iterdir()] == ["run.pt"]  # no temp file left
    other, other_opt = _model_and_optimizer(1)
    state = load_checkpoint(path, model=other, optimizer=other_opt)
    assert state == {"epoch": 3, "step": 40, "history": history}
    for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert other_opt.state_dict()["state"][0]["momentum_buffer"].equal(
        optimizer.state_dict()["state"][0]["momentum_buffer"]
    )
    assert torch.equal(torch.rand(3), expected_draw)  # RNG restored to the saved point


def test_file_is_loadable_with_weights_only(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    path = save_checkpoint(tmp_path / "run.pt", model=model, optimizer=optimizer, epoch=0, step=1, history=[])
    state = torch.load(path, weights_only=True)
    assert set(state) == {"model", "optimizer", "epoch", "step", "history", "rng"}


class _Payload:
    def __reduce__(self):
        return (print, ("unpickled code ran",))


def test_a_checkpoint_holding_objects_is_refused(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    path = tmp_path / "evil.pt"
    torch.save({"model": model.state_dict(), "payload": _Payload()}, path)
    with pytest.raises(RunError, match=r"evil\.pt"):
        load_checkpoint(path, model=model, optimizer=optimizer)


def test_a_truncated_checkpoint_is_a_run_error(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    path = save_checkpoint(tmp_path / "run.pt", model=model, optimizer=optimizer, epoch=0, step=1, history=[])
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RunError, match="delete it"):
        load_checkpoint(path, model=model, optimizer=optimizer)
