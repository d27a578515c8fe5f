"""Generated datasets for the demo study and the tests: no downloads, seeded, learnable in about an epoch.

The kinds differ in what a network has to see, so architecture rankings can differ between them:

- "shapes" (5 classes): one filled shape (circle, square, triangle, cross, ring) of random colour, size,
  position and rotation (±25°) on a noisy gradient background. Class = global outline (spatial structure).
- "textures" (12 classes): a two-colour sinusoidal grating filling the image; class = orientation (0°, 45°,
  90°, 135°) × spatial frequency (3, 5.5, 9 cycles per image), with random phase, colours, contrast and
  small jitter. Local texture statistics; no object, many classes; random phase defeats a linear model.
- "counting" (5 classes): 1–5 blobs of random colours on a noisy background, one radius per image drawn so
  that total blob area overlaps between neighbouring counts. Class = count: needs a wide receptive field
  and aggregation over the whole image rather than any one local pattern.

`make_synthetic` returns arrays (first `n_train` rows are the training split); `generate` writes a store
for a catalogue entry (`format: synthetic`). Everything is a function of (kind, sizes, resolution, seed):
numpy generators seeded from a SeedSequence of the seed and the kind's name, vectorised over images.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.data.catalogue import DatasetEntry
from pipeline.data.store import Store, is_store, write_store
from pipeline.errors import DatasetError

GENERATOR_VERSION = 1  # bump when the pictures change, so stores and run keys change with them

SHAPES = ("circle", "square", "triangle", "cross", "ring")
ORIENTATIONS_DEG = (0, 45, 90, 135)
CYCLES_PER_IMAGE = (3.0, 5.5, 9.0)
TEXTURES = tuple(f"{o}deg-{c:g}cyc" for o in ORIENTATIONS_DEG for c in CYCLES_PER_IMAGE)
COUNTS = ("1", "2", "3", "4", "5")


def _grid(n: int, res: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in units of the image side (0..1), shaped to broadcast over (n, res, res)."""
    c = (np.arange(res, dtype=np.float32) + 0.5) / res
    return c[None, :, None], c[None, None, :]  # y, x


def _background(rng: np.random.Generator, n: int, res: int) -> tuple[np.ndarray, np.ndarray]:
    """Float (n, res, res, 3) backgrounds in 0..1: a random colour, a random linear gradient, pixel noise."""
    base = rng.uniform(0.1, 0.9, (n, 1, 1, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    y, x = _grid(n, res)
    ramp = (np.cos(angle) * (x - 0.5) + np.sin(angle) * (y - 0.5)).astype(np.float32)
    tilt = rng.uniform(-0.3, 0.3, (n, 1, 1, 3)).astype(np.float32)
    img = base + ramp[..., None] * tilt + rng.normal(0, 0.06, (n, res, res, 3)).astype(np.float32)
    return img, base


def _contrasting(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """Colours at least 0.3 away from `base` in every channel (shifted round the 0..1 colour cube)."""
    shift = rng.uniform(0.3, 0.7, base.shape).astype(np.float32)
    return (base + shift) % 1.0


def _shapes(rng: np.random.Generator, labels: np.ndarray, res: int) -> np.ndarray:
    n = len(labels)
    img, base = _background(rng, n, res)
    cy, cx = (rng.uniform(0.32, 0.68, (2, n, 1, 1))).astype(np.float32)
    size = rng.uniform(0.26, 0.36, (n, 1, 1)).astype(np.float32)  # circumradius, fraction of the side
    theta = np.deg2rad(rng.uniform(-25, 25, (n, 1, 1))).astype(np.float32)
    y, x = _grid(n, res)
    u = ((x - cx) * np.cos(theta) + (y - cy) * np.sin(theta)) / size
    v = (-(x - cx) * np.sin(theta) + (y - cy) * np.cos(theta)) / size
    r2 = u * u + v * v
    lab = labels[:, None, None]
    # Equilateral triangle inscribed in the unit circle: inside all three edges (outward normals at
    # -90°, 30°, 150°, edges at distance 0.5 from the centre).
    tri = (-v <= 0.5) & (u * 0.866 + v * 0.5 <= 0.5) & (-u * 0.866 + v * 0.5 <= 0.5)
    cross = ((np.abs(u) <= 0.3) & (np.abs(v) <= 1)) | ((np.abs(v) <= 0.3) & (np.abs(u) <= 1))
    mask = np.select(
        [lab == 0, lab == 1, lab == 2, lab == 3, lab == 4],
        [r2 <= 1, np.maximum(np.abs(u), np.abs(v)) <= 0.8, tri, cross, (r2 <= 1) & (r2 >= 0.36)],
    )
    colour = _contrasting(rng, base)
    return np.where(mask[..., None], colour + rng.normal(0, 0.04, img.shape).astype(np.float32), img)


def _textures(rng: np.random.Generator, labels: np.ndarray, res: int) -> np.ndarray:
    n = len(labels)
    orient = np.deg2rad(np.asarray(ORIENTATIONS_DEG, dtype=np.float32))[labels // len(CYCLES_PER_IMAGE)]
    cycles = np.asarray(CYCLES_PER_IMAGE, dtype=np.float32)[labels % len(CYCLES_PER_IMAGE)]
    orient = orient + np.deg2rad(rng.uniform(-8, 8, n)).astype(np.float32)
    cycles = cycles * rng.uniform(0.9, 1.1, n).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
    y, x = _grid(n, res)
    along = np.cos(orient)[:, None, None] * x + np.sin(orient)[:, None, None] * y
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * cycles[:, None, None] * along + phase[:, None, None])
    c1 = rng.uniform(0.05, 0.95, (n, 1, 1, 3)).astype(np.float32)
    c2 = _contrasting(rng, c1)
    contrast = rng.uniform(0.6, 1.0, (n, 1, 1, 1)).astype(np.float32)
    t = 0.5 + contrast * (wave[..., None] - 0.5)
    return c1 * (1 - t) + c2 * t + rng.normal(0, 0.06, (n, res, res, 3)).astype(np.float32)


def _counting(rng: np.random.Generator, labels: np.ndarray, res: int) -> np.ndarray:
    n, most = len(labels), len(COUNTS)
    img, base = _background(rng, n, res)
    # Blobs sit in distinct cells of a 4×4 grid, jittered inside their cell, so they never touch.
    cells = np.argsort(rng.random((n, 16)), axis=1)[:, :most]
    radius = rng.uniform(0.06, 0.1, (n, 1, 1)).astype(np.float32)
    jitter = rng.uniform(-1, 1, (2, n, most)).astype(np.float32) * (0.125 - radius[:, :, 0] - 0.01)
    cy = (cells // 4 + 0.5) / 4 + jitter[0]
    cx = (cells % 4 + 0.5) / 4 + jitter[1]
    colours = _contrasting(rng, np.repeat(base, most, axis=1))  # (n, most, 1, 3)
    y, x = _grid(n, res)
    for j in range(most):
        inside = ((y - cy[:, j, None, None]) ** 2 + (x - cx[:, j, None, None]) ** 2 <= radius**2) & (
            labels[:, None, None] >= j  # label k shows k + 1 blobs
        )
        img = np.where(inside[..., None], colours[:, j : j + 1], img)
    return img


KINDS: dict[str, tuple[tuple[str, ...], Callable[[np.random.Generator, np.ndarray, int], np.ndarray]]] = {
    "shapes": (SHAPES, _shapes),
    "textures": (TEXTURES, _textures),
    "counting": (COUNTS, _counting),
}


def _balanced_labels(rng: np.random.Generator, n: int, num_classes: int) -> np.ndarray:
    """n labels with class counts differing by at most one, in random order."""
    return rng.permutation(np.arange(n) % num_classes).astype(np.int64)


def make_synthetic(
    kind: str, n_train: int, n_val: int, resolution: int = 32, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images uint8 (n_train + n_val, res, res, 3), labels int64, class names; the first n_train are train.

    Each split is balanced on its own; train and val are drawn from independent streams of one seed.
    """
    if kind not in KINDS:
        raise DatasetError(f"unknown synthetic kind {kind!r}; choose one of {sorted(KINDS)}")
    if n_train < 0 or n_val < 0 or resolution < 8:
        raise DatasetError(f"synthetic {kind!r}: need n_train, n_val ≥ 0 and resolution ≥ 8")
    classes, draw = KINDS[kind]
    root = np.random.SeedSequence([int(seed), zlib.crc32(kind.encode()), GENERATOR_VERSION])
    parts_img, parts_lab = [], []
    for count, child in zip((n_train, n_val), root.spawn(2), strict=True):
        rng = np.random.default_rng(child)
        labels = _balanced_labels(rng, count, len(classes))
        pixels = draw(rng, labels, resolution) if count else np.zeros((0, resolution, resolution, 3))
        parts_img.append(np.clip(np.rint(pixels * 255), 0, 255).astype(np.uint8))
        parts_lab.append(labels)
    return np.concatenate(parts_img), np.concatenate(parts_lab), list(classes)


def synthetic_settings(entry: DatasetEntry) -> dict[str, Any]:
    """The generator settings of a synthetic catalogue entry, validated: `synthetic: {kind, n_train, n_val}`,
    which the catalogue keeps in the entry's `options` (with an optional `num_classes`)."""
    name = entry.name
    options = entry.options or {}
    settings = dict(options.get("synthetic") or {})
    resolution = entry.resolution
    problems = []
    kind = settings.get("kind")
    if kind not in KINDS:
        problems.append(f"synthetic.kind {kind!r} is not one of {sorted(KINDS)}")
    for key in ("n_train", "n_val"):
        if not isinstance(settings.get(key), int) or settings[key] < 1:
            problems.append(f"synthetic.{key} {settings.get(key)!r} must be a positive integer")
    if problems:
        raise DatasetError(f"synthetic dataset {name!r}: " + "; ".join(problems))
    classes = list(KINDS[kind][0])
    wanted = entry.classes
    num_classes = options.get("num_classes")
    if wanted is not None and list(wanted) != classes:
        raise DatasetError(
            f"synthetic dataset {name!r}: classes must be {classes} for kind {kind!r} (or omitted)"
        )
    if num_classes is not None and int(num_classes) != len(classes):
        raise DatasetError(
            f"synthetic dataset {name!r}: kind {kind!r} has {len(classes)} classes, not {num_classes}"
        )
    return {
        "kind": kind,
        "n_train": settings["n_train"],
        "n_val": settings["n_val"],
        "resolution": int(resolution),
    }


def generate(entry: DatasetEntry, out_dir: str | Path, seed: int = 0) -> Store:
    """Generate a synthetic catalogue dataset into the store folder `out_dir` (e.g. data/synth-shapes).

    Replaces an existing store there (same inputs give the same bytes), but refuses to touch a folder
    that holds anything other than a store.
    """
    name = entry.name
    settings = synthetic_settings(entry)
    out_dir = Path(out_dir)
    if out_dir.exists() and not is_store(out_dir) and any(out_dir.iterdir()):
        raise DatasetError(
            f"{out_dir} exists and is not a dataset store; refusing to overwrite it with {name!r} "
            f"(pass the store folder itself, e.g. <data_root>/{name})"
        )
    images, labels, classes = make_synthetic(
        settings["kind"], settings["n_train"], settings["n_val"], settings["resolution"], seed
    )
    splits = np.array(["train"] * settings["n_train"] + ["val"] * settings["n_val"])
    info = {**settings, "seed": int(seed), "generator_version": GENERATOR_VERSION}
    return write_store(
        out_dir,
        images,
        labels,
        splits,
        classes,
        name=name,
        source_ids=[f"synthetic:{settings['kind']}:{seed}#{i}" for i in range(len(images))],
        split={"policy": "synthetic", **info},
        extra_meta={"synthetic": info},
    )
