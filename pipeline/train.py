"""One training run in pycls's shape: `train_epoch`, `precise_bn`, `evaluate`, `result_row`, `train_run`.

The recipe is R20's plain regime as T22 uses it: SGD with momentum (Nesterov optional) and weight decay on
every parameter, a half-period cosine (timm's `CosineLRScheduler`; per optimizer step, or once per epoch
as pycls's `get_epoch_lr` does; optional linear warm-up), cross-entropy. Optionally pycls's precise BN
statistics (BN.USE_PRECISE_STATS): before evaluation, the BN running means/variances are replaced by the
average of `precise_bn_batches` training batches' statistics. Errors are top-1 and top-5 error in percent
on the store's "val" split.

- Determinism: on CPU, a run is a function of (architecture, task, seed, torch thread count): the seed
  fixes the weight init and the loader's order/augmentation per epoch, so a run resumed from a checkpoint
  ends with the same numbers as an uninterrupted one at the same thread count (`threads` is recorded).
- CUDA: bf16 autocast, channels_last, data resident on the device, optional `torch.compile`.
- A non-finite loss ends the run with status "diverged" (errors NaN); its row is still written.
- Each epoch ends with an atomic checkpoint; the result row is written last (temp + rename) and then the
  checkpoint is deleted, so a complete result file exists exactly when the run is finished.
"""

from __future__ import annotations

import itertools
import math
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from timm.scheduler import CosineLRScheduler
from timm.utils import accuracy

from anynet import Arch, build_model, complexity
from pipeline import fsio, layout
from pipeline.checkpoint import load_checkpoint, save_checkpoint, unwrap
from pipeline.study import Recipe, Task
from pipeline.taskdata import TaskData

# A non-finite loss is checked every step on CPU; on CUDA every N steps (each check syncs the device).
CUDA_CHECK_EVERY = 25


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def make_optimizer(model: torch.nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov and recipe.momentum > 0,
        weight_decay=recipe.weight_decay,
    )


def make_scheduler(
    optimizer: torch.optim.Optimizer, recipe: Recipe, steps_per_epoch: int
) -> CosineLRScheduler | None:
    """Half-period cosine from `lr` to `lr_min` after an optional linear warm-up (None: constant LR).

    Per epoch (`schedule_unit: epoch`), epoch e of E trains at lr_min + (lr − lr_min)·(1 + cos(π·e/E))/2,
    pycls's `lr_fun_cos` (with its MIN_LR as an absolute rate); per step, the same curve in steps.
    """
    if recipe.schedule == "constant":
        return None
    per_step = recipe.schedule_unit == "step"
    unit = steps_per_epoch if per_step else 1
    warmup = round(recipe.warmup_epochs * unit)
    total = recipe.epochs * unit
    return CosineLRScheduler(
        optimizer,
        t_initial=max(1, total - warmup),
        lr_min=recipe.lr_min,
        warmup_t=warmup,
        warmup_lr_init=recipe.lr_min,
        warmup_prefix=True,
        t_in_epochs=not per_step,
    )


@dataclass
class EpochStats:
    loss: float  # mean training loss over the epoch's batches (NaN/inf when diverged)
    steps: int
    images: int
    seconds: float
    diverged: bool


def train_epoch(
    model: torch.nn.Module,
    loader: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: CosineLRScheduler | None,
    recipe: Recipe,
    *,
    epoch: int,
    step: int,
    device: str,
) -> EpochStats:
    """One pass over the training loader; stops early when the loss stops being finite."""
    cuda = device.startswith("cuda")
    if scheduler is not None and recipe.schedule_unit == "epoch":
        scheduler.step(epoch)
    loader.set_epoch(epoch)
    start = time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    images = steps = 0
    diverged = False
    for inputs, labels in loader:
        if scheduler is not None and recipe.schedule_unit == "step":
            scheduler.step_update(step + steps)
        with torch.autocast("cuda", torch.bfloat16, enabled=cuda):
            loss = F.cross_entropy(model(inputs), labels, label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach()
        images += labels.shape[0]
        steps += 1
        if (not cuda or steps % CUDA_CHECK_EVERY == 0) and not torch.isfinite(loss_sum):
            diverged = True
            break
    mean = float(loss_sum) / max(1, len(loader))
    return EpochStats(mean, steps, images, time.perf_counter() - start, diverged or not math.isfinite(mean))


@torch.no_grad()
def precise_bn(model: torch.nn.Module, loader: Any, batches: int, *, epoch: int, device: str) -> int:
    """pycls's precise BN: set every BN layer's running mean/var to the average of `batches` training
    batches' statistics (momentum 1 per batch, then averaged), in train mode; returns batches used."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns or batches < 1:
        return 0
    used = min(batches, len(loader))
    means = [torch.zeros_like(bn.running_mean) for bn in bns]
    variances = [torch.zeros_like(bn.running_var) for bn in bns]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 1.0
    model.train()
    loader.set_epoch(epoch)  # a fixed extra epoch of the seeded stream: deterministic on resume
    with torch.autocast("cuda", torch.bfloat16, enabled=device.startswith("cuda")):
        for inputs, _ in itertools.islice(loader, used):
            model(inputs)
            for i, bn in enumerate(bns):
                means[i] += bn.running_mean / used
                variances[i] += bn.running_var / used
    for bn, mean, var, momentum in zip(bns, means, variances, momenta, strict=True):
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.momentum = momentum
    return used


def evaluate(model: torch.nn.Module, loader: Any, device: str) -> tuple[float, float]:
    """(top-1 error, top-5 error) in percent over a loader (top-5 counts all when k < 5 classes)."""
    was_training = model.training
    model.eval()
    correct1 = correct5 = 0.0
    count = 0
    with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=device.startswith("cuda")):
        for inputs, labels in loader:
            acc1, acc5 = accuracy(model(inputs).float(), labels, topk=(1, 5))
            n = labels.shape[0]
            correct1 += float(acc1) * n / 100.0
            correct5 += float(acc5) * n / 100.0
            count += n
    model.train(was_training)
    if count == 0:
        return math.nan, math.nan
    return 100.0 - 100.0 * correct1 / count, 100.0 - 100.0 * correct5 / count


def result_row(
    *,
    arch: Arch,
    arch_id: int,
    task: Task,
    data: TaskData,
    run_key: str,
    seed: int,
    status: str,
    errors: tuple[float, float],
    history: list[dict[str, float]],
    study_name: str,
    device: str,
) -> dict[str, Any]:
    """The run's one result row (columns: `layout.RESULT_SCHEMA`)."""
    recipe = task.recipe
    top1, top5 = errors
    train_seconds = sum(h["seconds"] for h in history)
    images = sum(h["images"] for h in history)
    cx = complexity(arch, im_size=data.crop, num_classes=data.num_classes)
    cuda = device.startswith("cuda")
    return {
        "run_key": run_key, "arch_id": int(arch_id), "task": task.name, "dataset": task.dataset,
        "variant": task.variant_json if task.variant else None, "seed": int(seed),
        "epochs": int(recipe.epochs), "metric": recipe.metric,
        "error": top1 if recipe.metric == "top1" else top5, "top1_err": top1, "top5_err": top5,
        "status": status, "train_seconds": train_seconds,
        "images_per_second": images / train_seconds if train_seconds > 0 else math.nan,
        "device": torch.cuda.get_device_name(device) if cuda else f"cpu:{socket.gethostname()}",
        "num_classes": data.num_classes, "study": study_name, "flops": int(cx["flops"]),
        "params": int(cx["params"]), "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "final_loss": history[-1]["train_loss"] if history else math.nan, "lr": float(recipe.lr),
        "batch_size": int(recipe.batch_size), "resolution": data.crop,
        "fingerprint": str(data.store.fingerprint), "epochs_done": len(history),
        "threads": torch.get_num_threads(),
    }  # fmt: skip


def train_run(
    arch: Arch,
    task: Task,
    data: TaskData,
    *,
    run_key: str,
    arch_id: int,
    seed: int,
    results_dir: str | Path,
    study_name: str = "",
    device: str | None = None,
    keep_weights: bool = False,
    on_epoch_end: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Train one run (resuming from its checkpoint), write its result row and history, return the row.

    `keep_weights`: also write the final weights (safetensors) for `collect` to keep or prune.
    `on_epoch_end(epoch)` is called after each epoch's checkpoint is saved (tests use it to interrupt).
    """
    device = device or default_device()
    cuda = device.startswith("cuda")
    recipe = task.recipe
    ckpt = layout.checkpoint_path(results_dir, task.name, run_key)
    if cuda:  # fixed batch shapes: let cuDNN pick the fastest kernels (GPU runs are not bitwise reproducible)
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(seed)
    # channels_last on every device: on CPU too it is ~17% faster for AnyNetX's grouped convs
    # (RegNetX-400MF at 32 px, batch 64, one thread: 2.35 s vs 2.84 s for 20 steps; see bench_train.py)
    model = build_model(arch, data.num_classes).to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(model, recipe)
    train_loader = data.train_loader(seed)
    scheduler = make_scheduler(optimizer, recipe, len(train_loader))

    start_epoch, step, history = 0, 0, []
    if ckpt.is_file():
        state = load_checkpoint(ckpt, model=model, optimizer=optimizer, map_location=device)
        start_epoch, step, history = state["epoch"] + 1, state["step"], state["history"]
        print(f"run {run_key}: resuming after epoch {state['epoch']} from {ckpt}", flush=True)
    step_model = torch.compile(model) if (recipe.compile and cuda) else model

    status = "ok"
    model.train()
    for epoch in range(start_epoch, recipe.epochs):
        stats = train_epoch(
            step_model, train_loader, optimizer, scheduler, recipe, epoch=epoch, step=step, device=device
        )
        step += stats.steps
        history.append(
            {
                "epoch": epoch,
                "train_loss": stats.loss,
                "lr": float(optimizer.param_groups[0]["lr"]),
                "seconds": stats.seconds,
                "images": stats.images,
            }
        )
        if stats.diverged:
            status = "diverged"
            break
        save_checkpoint(ckpt, model=model, optimizer=optimizer, epoch=epoch, step=step, history=history)
        if on_epoch_end is not None:
            on_epoch_end(epoch)

    errors = (math.nan, math.nan)
    if status == "ok":
        precise_bn(model, train_loader, recipe.precise_bn_batches, epoch=recipe.epochs, device=device)
        errors = evaluate(step_model, data.val_loader(), device)
        if keep_weights:
            save_weights(
                model,
                layout.weights_path(results_dir, task.name, run_key),
                arch=arch,
                num_classes=data.num_classes,
                run_key=run_key,
            )
    row = result_row(
        arch=arch,
        arch_id=arch_id,
        task=task,
        data=data,
        run_key=run_key,
        seed=seed,
        status=status,
        errors=errors,
        history=history,
        study_name=study_name,
        device=device,
    )
    layout.write_result(results_dir, task.name, row, history)
    return row


def save_weights(model: torch.nn.Module, path: Path, *, arch: Arch, num_classes: int, run_key: str) -> Path:
    """The model's final state dict as safetensors (atomically), with what rebuilds it as metadata."""
    import json

    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in unwrap(model).state_dict().items()}
    metadata = {"arch": json.dumps(arch.to_dict()), "num_classes": str(num_classes), "run_key": run_key}
    return fsio.write_with(path, lambda tmp: save_file(state, str(tmp), metadata=metadata))
