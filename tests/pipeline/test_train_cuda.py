"""The CUDA path of a run (bf16 autocast, channels_last, data on the device, precise BN, kept weights), on a
GPU only: it trains, resumes from its checkpoint, and its kept weights give back its validation error.
GPU runs are not bitwise reproducible (cuDNN benchmark mode), so numbers are compared with tolerances."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from anynet import Arch, build_model
from pipeline import layout
from pipeline.study import load_study
from pipeline.taskdata import TaskData
from pipeline.train import evaluate, train_run
from tests.pipeline.fanout_support import make_tiny_study

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


class Interrupted(Exception):
    pass


def _setup(tmp_path, **recipe):
    study = load_study(make_tiny_study(tmp_path, epochs=3))
    task = study.tasks["cifar"]
    task = dataclasses.replace(task, recipe=dataclasses.replace(task.recipe, precise_bn_batches=2, **recipe))
    arch = Arch.from_row(layout.read_architectures(study).to_dict("records")[2])
    return study, task, arch


def test_a_cuda_run_trains_resumes_and_keeps_its_weights(tmp_path):
    from safetensors.torch import load_file

    study, task, arch = _setup(tmp_path)
    data = TaskData(study, task, "cuda")
    assert data.train_loader(0).images.is_cuda and data.val_loader().images.is_cuda

    def stop(epoch):
        raise Interrupted(epoch)

    kwargs = {"run_key": "k", "arch_id": 2, "seed": 0, "results_dir": study.results_dir, "device": "cuda"}
    with pytest.raises(Interrupted):
        train_run(arch, task, data, on_epoch_end=stop, **kwargs)
    assert layout.checkpoint_path(study.results_dir, "cifar", "k").is_file()
    row = train_run(arch, task, data, keep_weights=True, **kwargs)
    assert row["status"] == "ok" and row["epochs_done"] == 3 and 0 <= row["top1_err"] <= 100
    assert "H200" in row["device"] or row["device"].startswith(("NVIDIA", "Tesla"))
    model = build_model(arch, data.num_classes)
    model.load_state_dict(load_file(str(layout.weights_path(study.results_dir, "cifar", "k"))))
    model = model.to("cuda", memory_format=torch.channels_last)
    top1, _ = evaluate(model, data.val_loader(), "cuda")
    assert top1 == pytest.approx(row["top1_err"], abs=100 / 24 + 1e-6)  # at most one of 24 images flips


def test_torch_compile_on_cuda(tmp_path):
    study, task, arch = _setup(tmp_path, compile=True)
    row = train_run(arch, task, TaskData(study, task, "cuda"), run_key="c", arch_id=2, seed=0,
                    results_dir=study.results_dir, device="cuda")  # fmt: skip
    assert row["status"] == "ok"
