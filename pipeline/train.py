"""One training run: an AnyNetX model trained on one task with the task's recipe, evaluated, one row written.

The recipe is R20's plain regime as T22 uses it: SGD with momentum (Nesterov optional) and weight decay on
every parameter, a half-period cosine (timm's `CosineLRScheduler`, per optimizer step or per epoch, optional
linear warm-up), cross-entropy. Errors are top-1 and top-5 error in percent on the store's "val" split.

- Determinism: on CPU, a run is a function of (architecture, task, seed): the seed fixes the weight init and
  the loader's order/augmentation per epoch (`DeviceLoader.set_epoch`), so a run resumed from a checkpoint
  ends with the same numbers as an uninterrupted one.
- CUDA: bf16 autocast, channels_last, data resident on the device, optional `torch.compile`.
- A non-finite loss ends the run with status "diverged" (errors NaN); its row is still written.
- Each epoch ends with an atomic checkpoint; the result row is written last (temp + rename) and then the
  checkpoint is deleted, so a result file exists exactly when the run is finished.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from timm.scheduler import CosineLRScheduler
from timm.utils import accuracy

from pipeline import runs
from pipeline.checkpoint import load_checkpoint, save_checkpoint
from pipeline.study import Recipe, Task

RESULT_COLUMNS = (
    "run_key", "arch_id", "task", "dataset", "variant", "seed", "epochs", "metric", "error", "top1_err",
    "top5_err", "status", "train_seconds", "images_per_second", "device", "num_classes", "study", "flops",
    "params", "finished_at", "final_loss", "lr", "batch_size", "resolution", "fingerprint", "epochs_done",
)  # fmt: skip
# A non-finite loss is checked every step on CPU; on CUDA every N steps (each check syncs the device).
CUDA_CHECK_EVERY = 25


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def make_arch(arch: dict[str, Any]) -> Any:
    """An `anynet.Arch` from plain data (see `pipeline.runs.arch_dict`)."""
    import anynet

    return anynet.Arch(
        depths=tuple(arch["depths"]), widths=tuple(arch["widths"]),
        bottleneck_ratios=tuple(arch["bottleneck_ratios"]), group_widths=tuple(arch["group_widths"]),
        se_ratio=float(arch["se_ratio"]), stem_width=int(arch["stem_width"]), strides=tuple(arch["strides"]),
    )  # fmt: skip


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
    """Half-period cosine from `lr` to `lr_min` after an optional linear warm-up (None: constant LR)."""
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


def _loader(
    store: Any,
    split: str,
    *,
    train: bool,
    recipe: Recipe,
    crop: int,
    seed: int,
    device: str,
    cache: dict | None,
) -> Any:
    """A DeviceLoader, reused from `cache` when a worker trains several runs on the same data."""
    from pipeline.data.loader import DeviceLoader

    batch = recipe.batch_size if train else recipe.eval_batch_size
    key = (id(store), split, train, batch, crop, seed, device)
    if cache is not None and key in cache:
        return cache[key]
    loader = DeviceLoader(
        store,
        split,
        batch_size=batch,
        train=train,
        crop_size=crop,
        seed=seed,
        device=device,
        channels_last=True,
    )
    if cache is not None:
        cache.clear()  # one task's loaders at a time: the previous ones free their device memory
        cache[key] = loader
    return loader


def evaluate(model: torch.nn.Module, loader: Any, device: str) -> tuple[float, float]:
    """(top-1 error, top-5 error) in percent over a loader; top-5 is 0 with fewer than 6 classes' worth."""
    model.eval()
    correct1 = correct5 = 0.0
    count = 0
    with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=device.startswith("cuda")):
        for images, labels in loader:
            acc1, acc5 = accuracy(model(images).float(), labels, topk=(1, 5))
            n = labels.shape[0]
            correct1 += float(acc1) * n / 100.0
            correct5 += float(acc5) * n / 100.0
            count += n
    model.train()
    if count == 0:
        return math.nan, math.nan
    return 100.0 - 100.0 * correct1 / count, 100.0 - 100.0 * correct5 / count


def train_run(
    arch: dict[str, Any],
    task: Task,
    store: Any,
    *,
    run_key: str,
    arch_id: int,
    seed: int,
    results_dir: str | Path,
    study_name: str = "",
    device: str | None = None,
    compile_model: bool | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
    loader_cache: dict | None = None,
) -> dict[str, Any]:
    """Train one run (resuming from its checkpoint), write its result row and history, return the row.

    `on_epoch_end(epoch)` is called after each epoch's checkpoint is saved (tests use it to interrupt);
    `loader_cache` (a dict owned by the caller) keeps the device-resident data between runs of a worker.
    """
    import anynet

    device = device or default_device()
    cuda = device.startswith("cuda")
    recipe = task.recipe
    num_classes = int(store.num_classes)
    crop = int(recipe.resolution or store.meta["resolution"][0])
    ckpt = runs.checkpoint_path(results_dir, task.name, run_key)

    if cuda:  # fixed batch shapes: let cuDNN pick the fastest kernels (GPU runs are not bitwise reproducible)
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(seed)
    arch_obj = make_arch(arch)
    # channels_last on every device: on CPU too it is ~17% faster for AnyNetX's grouped convs
    # (RegNetX-400MF at 32 px, batch 64, one thread: 2.35 s vs 2.84 s for 20 steps; see bench_train.py)
    model = anynet.build_model(arch_obj, num_classes).to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(model, recipe)
    train_loader = _loader(
        store, "train", train=True, recipe=recipe, crop=crop, seed=seed, device=device, cache=loader_cache
    )
    val_loader = _loader(
        store, "val", train=False, recipe=recipe, crop=crop, seed=seed, device=device, cache=None
    )
    steps_per_epoch = len(train_loader)
    scheduler = make_scheduler(optimizer, recipe, steps_per_epoch)

    start_epoch, step, history = 0, 0, []
    if ckpt.is_file():
        state = load_checkpoint(ckpt, model=model, optimizer=optimizer, map_location=device)
        start_epoch, step, history = state["epoch"] + 1, state["step"], state["history"]
        print(f"run {run_key}: resuming after epoch {state['epoch']} from {ckpt}", flush=True)
    use_compile = recipe.compile if compile_model is None else compile_model
    step_model = torch.compile(model) if (use_compile and cuda) else model

    status = "ok"
    final_loss = history[-1]["train_loss"] if history else math.nan
    model.train()
    for epoch in range(start_epoch, recipe.epochs):
        if scheduler is not None and recipe.schedule_unit == "epoch":
            scheduler.step(epoch)
        train_loader.set_epoch(epoch)
        epoch_start = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        images_seen = 0
        for images, labels in train_loader:
            if scheduler is not None and recipe.schedule_unit == "step":
                scheduler.step_update(step)
            with torch.autocast("cuda", torch.bfloat16, enabled=cuda):
                loss = F.cross_entropy(step_model(images), labels, label_smoothing=recipe.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            images_seen += labels.shape[0]
            step += 1
            if (not cuda or step % CUDA_CHECK_EVERY == 0) and not torch.isfinite(loss_sum):
                status = "diverged"
                break
        seconds = time.perf_counter() - epoch_start
        mean_loss = float(loss_sum) / max(1, len(train_loader))
        if not math.isfinite(mean_loss):
            status = "diverged"
        history.append(
            {
                "epoch": epoch,
                "train_loss": mean_loss,
                "lr": float(optimizer.param_groups[0]["lr"]),
                "seconds": seconds,
                "images": images_seen,
            }
        )
        final_loss = mean_loss
        if status == "diverged":
            break
        save_checkpoint(ckpt, model=model, optimizer=optimizer, epoch=epoch, step=step, history=history)
        if on_epoch_end is not None:
            on_epoch_end(epoch)

    if status == "ok":
        top1, top5 = evaluate(step_model, val_loader, device)
    else:
        top1 = top5 = math.nan
    train_seconds = sum(h["seconds"] for h in history)
    images = sum(h["images"] for h in history)
    cx = anynet.complexity(arch_obj, im_size=crop, num_classes=num_classes)
    row = {
        "run_key": run_key,
        "arch_id": int(arch_id),
        "task": task.name,
        "dataset": task.dataset,
        "variant": task.variant_json,
        "seed": int(seed),
        "epochs": int(recipe.epochs),
        "metric": recipe.metric,
        "error": top1 if recipe.metric == "top1" else top5,
        "top1_err": top1,
        "top5_err": top5,
        "status": status,
        "train_seconds": train_seconds,
        "images_per_second": images / train_seconds if train_seconds > 0 else math.nan,
        "device": torch.cuda.get_device_name(device) if cuda else f"cpu:{socket.gethostname()}",
        "num_classes": num_classes,
        "study": study_name,
        "flops": int(cx["flops"]),
        "params": int(cx["params"]),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "final_loss": final_loss,
        "lr": float(recipe.lr),
        "batch_size": int(recipe.batch_size),
        "resolution": crop,
        "fingerprint": str(store.fingerprint),
        "epochs_done": len(history),
    }
    write_result(results_dir, task.name, row, history)
    return row


def write_result(
    results_dir: str | Path, task: str, row: dict[str, Any], history: list[dict[str, Any]]
) -> Path:
    """History first, then the row (its presence means finished), then drop checkpoint and markers."""
    key = row["run_key"]
    hist = pd.DataFrame(history, columns=["epoch", "train_loss", "lr", "seconds", "images"])
    hist.insert(0, "run_key", key)
    runs.write_table(hist, runs.history_path(results_dir, task, key))
    path = runs.write_table(
        pd.DataFrame([row], columns=list(RESULT_COLUMNS)), runs.result_path(results_dir, task, key)
    )
    for leftover in (
        runs.checkpoint_path(results_dir, task, key),
        runs.failure_path(results_dir, task, key),
        runs.started_path(results_dir, task, key),
    ):
        leftover.unlink(missing_ok=True)
    return path
