"""Whole-batch augmentation on the device: the per-image transforms of pycls/torchvision as tensor ops.

Every function takes a batch on one device and a `torch.Generator` on that device, and draws all of
its random numbers from the generator in a fixed order, so a batch's augmentation is a function of the
generator's state (bit-identical on CPU; on CUDA as deterministic as the kernels are).

Images are uint8 NHWC (the store's layout) until the last step; crops and flips are index gathers on
uint8, so the expensive float work runs once, on the output size.

- Small images (≤ 64 px): `flip_pad_crop` = torchvision `RandomCrop(crop, padding=pad)` followed by
  `RandomHorizontalFlip()`, as one gather. Zero padding is the default because it is what torchvision's
  `RandomCrop(padding=4)` does (and what C17 and the CIFAR literature use); "reflect" is offered (airbench).
  Flipping a crop of the padded image equals cropping the flipped padded image at the mirrored offset, and
  the offset is uniform on a symmetric range, so folding the flip into the column index of the gather
  draws from the same distribution as flip-then-crop.
- Large images: `random_resized_crop` = pycls `random_sized_crop` (area fraction 0.08–1, aspect 3/4–4/3,
  10 tries, else the centre square) + flip, resampled bilinearly with one `affine_grid`/`grid_sample` call
  per batch. The affine maps output pixel centres onto the box (align_corners=False), which is what
  `torchvision.ops.roi_align(aligned=True, sampling_ratio=1)` computes too; grid_sample also folds the flip
  into the same matrix (negative x scale) and needs no torchvision. Like pycls (cv2 INTER_LINEAR) the
  resampling is bilinear without antialiasing. One difference: the aspect is drawn log-uniformly
  (torchvision); pycls draws it uniformly and swaps h/w half the time; both are symmetric in h↔w.
- `resize_short_center_crop` (eval, large) = resize the short side to round(crop / 0.875), then the centre
  crop (pycls test transform); bilinear with antialiasing (as torchvision/PIL), applied once at load.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SMALL_IMAGE_MAX = 64  # images up to this size get pad+crop; larger ones get random-resized crop
EVAL_CROP_FRACTION = 0.875  # pycls/torchvision: short side resized to crop / 0.875, then centre crop
PAD_MODES = ("zero", "reflect")


def seeded_generator(seed: int, epoch: int, device: torch.device | str) -> torch.Generator:
    """A generator on `device` whose state is a function of (seed, epoch) only."""
    # Mix the pair so that (seed, epoch) and (seed + 1, epoch - 1) do not collide.
    mixed = (int(seed) * 0x9E3779B97F4A7C15 + int(epoch) * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) % (2**63)
    gen = torch.Generator(device=device)
    gen.manual_seed(mixed)
    return gen


def _uniform(n: int, low: float, high: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device, dtype=torch.float64) * (high - low) + low


def flip_pad_crop(
    images: torch.Tensor,
    crop: int,
    *,
    pad: int,
    generator: torch.Generator,
    mode: str = "zero",
    flip: bool = True,
    index: torch.Tensor | None = None,
    blank_last: bool = False,
) -> torch.Tensor:
    """Random `crop`×`crop` windows of the `pad`-padded uint8 NHWC images, each flipped with p = 0.5.

    Returns uint8 (N, crop, crop, C). No padded copy is made: source rows/columns are computed in the
    unpadded frame and out-of-range ones are reflected ("reflect") or zeroed ("zero"). With `index`, the
    batch is `images[index]`, gathered in the same pass (no separate copy of the batch). `blank_last`
    says that `images[-1]` is all zeros and never indexed: zero padding is then read from it instead of
    being masked in a second pass over the batch.
    """
    if mode not in PAD_MODES:
        raise ValueError(f"pad mode {mode!r} is not one of {PAD_MODES}")
    _, h, w, _ = images.shape
    dev = images.device
    index = torch.arange(len(images), device=dev) if index is None else index
    n = len(index)
    if crop > h + 2 * pad or crop > w + 2 * pad:
        raise ValueError(f"crop {crop} does not fit images {h}×{w} padded by {pad}")
    if mode == "reflect" and pad >= min(h, w):
        raise ValueError(f"reflect padding of {pad} px needs images larger than {pad} px, got {h}×{w}")
    oy = torch.randint(0, h + 2 * pad - crop + 1, (n,), generator=generator, device=dev)
    ox = torch.randint(0, w + 2 * pad - crop + 1, (n,), generator=generator, device=dev)
    ar = torch.arange(crop, device=dev)
    rows = oy[:, None] + ar - pad  # (N, crop), in the unpadded frame
    cols = ox[:, None] + ar - pad
    if flip:
        flipped = torch.rand(n, generator=generator, device=dev) < 0.5
        cols = torch.where(flipped[:, None], cols.flip(1), cols)
    pixels = images.reshape(-1, images.shape[-1])  # a view when images are contiguous NHWC
    if mode == "reflect" or pad == 0:
        rows, cols = _reflect(rows, h), _reflect(cols, w)
        row_bad = col_bad = None
    else:
        row_bad, col_bad = (rows < 0) | (rows >= h), (cols < 0) | (cols >= w)
        rows, cols = rows.clamp(0, h - 1), cols.clamp(0, w - 1)
    # One index_select of whole pixels (C bytes each) from the flat pixel list: several times faster on
    # CPU than advanced indexing with three broadcast index tensors, and the same result.
    row_part = index[:, None] * (h * w) + rows * w  # (N, crop)
    if blank_last and row_bad is not None:
        # An out-of-range row or column pushes the sum past the last real pixel; clamping it there
        # lands on the blank image, so padding costs no mask pass.
        blank = (len(images) - 1) * h * w
        row_part = row_part + row_bad * blank
        cols = cols + col_bad * blank
        flat = (row_part[:, :, None] + cols[:, None, :]).clamp_(max=blank).reshape(-1)
        return pixels.index_select(0, flat).view(n, crop, crop, -1)
    flat = (row_part[:, :, None] + cols[:, None, :]).reshape(-1)
    out = pixels.index_select(0, flat).view(n, crop, crop, -1)
    if row_bad is not None:
        valid = ~(row_bad[:, :, None] | col_bad[:, None, :])
        out = out * valid[..., None].to(out.dtype)
    return out


def _reflect(idx: torch.Tensor, size: int) -> torch.Tensor:
    """Reflect indices into [0, size) without repeating the edge (numpy/torch "reflect" padding)."""
    idx = idx.abs()
    return torch.where(idx > size - 1, 2 * (size - 1) - idx, idx)


def random_resized_boxes(
    n: int,
    h: int,
    w: int,
    *,
    generator: torch.Generator,
    device: torch.device,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    tries: int = 10,
) -> torch.Tensor:
    """Integer boxes (N, 4) = (y0, x0, box_h, box_w) of pycls's random-sized crop, drawn for a batch.

    Each sample draws `tries` candidates at once and keeps the first that fits; samples with none get
    the centre square of side min(h, w).
    """
    area = _uniform(n * tries, *scale, generator, device) * (h * w)
    log_ratio = _uniform(n * tries, math.log(ratio[0]), math.log(ratio[1]), generator, device)
    aspect = torch.exp(log_ratio)
    bw = torch.sqrt(area * aspect).round().long().view(n, tries)
    bh = torch.sqrt(area / aspect).round().long().view(n, tries)
    fits = (bw <= w) & (bh <= h) & (bw > 0) & (bh > 0)
    first = torch.argmax(fits.int(), dim=1)  # first fitting try (0 when none fits; masked below)
    any_fit = fits.any(dim=1)
    pick = torch.arange(n, device=device)
    side = min(h, w)
    bh = torch.where(any_fit, bh[pick, first], torch.full_like(bh[:, 0], side))
    bw = torch.where(any_fit, bw[pick, first], torch.full_like(bw[:, 0], side))
    # Offsets uniform on 0..h-bh inclusive, as randint(0, h - bh + 1) per sample.
    y0 = (
        (torch.rand(n, generator=generator, device=device, dtype=torch.float64) * (h - bh + 1)).floor().long()
    )
    x0 = (
        (torch.rand(n, generator=generator, device=device, dtype=torch.float64) * (w - bw + 1)).floor().long()
    )
    y0 = torch.where(any_fit, y0.clamp(max=h - bh), (h - bh) // 2)
    x0 = torch.where(any_fit, x0.clamp(max=w - bw), (w - bw) // 2)
    return torch.stack([y0, x0, bh, bw], dim=1)


def resample_boxes(
    images: torch.Tensor, boxes: torch.Tensor, crop: int, flip: torch.Tensor | None
) -> torch.Tensor:
    """Bilinearly resample each box of a float NCHW batch to `crop`×`crop`; flipped where `flip` is true.

    Output pixel j samples source x = x0 + (j + 0.5)·box_w/crop − 0.5 (pixel-centre convention), i.e.
    a plain resize of the box; "border" padding guards the half-pixel beyond the box edge.
    """
    n, _, h, w = images.shape
    b = boxes.to(torch.float64)
    y0, x0, bh, bw = b.unbind(1)
    theta = torch.zeros(n, 2, 3, dtype=torch.float64, device=images.device)
    sx = bw / w
    theta[:, 0, 0] = sx if flip is None else torch.where(flip, -sx, sx)
    theta[:, 0, 2] = (2 * x0 + bw) / w - 1
    theta[:, 1, 1] = bh / h
    theta[:, 1, 2] = (2 * y0 + bh) / h - 1
    grid = F.affine_grid(theta.to(images.dtype), [n, images.shape[1], crop, crop], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_resized_crop(images: torch.Tensor, crop: int, *, generator: torch.Generator) -> torch.Tensor:
    """pycls train transform for large images, uint8 NHWC batch → float32 NCHW (N, C, crop, crop), 0..255."""
    n, h, w, _ = images.shape
    boxes = random_resized_boxes(n, h, w, generator=generator, device=images.device)
    flip = torch.rand(n, generator=generator, device=images.device) < 0.5
    x = images.permute(0, 3, 1, 2).float()
    return resample_boxes(x, boxes, crop, flip)


def resize_short_center_crop(images: torch.Tensor, crop: int, *, short: int | None = None) -> torch.Tensor:
    """Resize a uint8 NCHW batch so its short side is `short` (default round(crop/0.875)), centre-crop.

    Returns uint8 NCHW (N, C, crop, crop). With `short=crop` on square images this is a plain resize.
    """
    _, _, h, w = images.shape
    short = round(crop / EVAL_CROP_FRACTION) if short is None else short
    new_h, new_w = max(crop, round(h * short / min(h, w))), max(crop, round(w * short / min(h, w)))
    x = images
    if (new_h, new_w) != (h, w):
        x = F.interpolate(
            images.float(), size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False
        )
        x = x.round_().clamp_(0, 255).to(torch.uint8)
    top, left = (new_h - crop) // 2, (new_w - crop) // 2
    return x[:, :, top : top + crop, left : left + crop]


def normalize(images: torch.Tensor, mean, std, *, dtype: torch.dtype, channels_last: bool) -> torch.Tensor:
    """(x/255 − mean)/std per channel of a 0..255 NCHW batch (any layout), as `dtype`.

    `mean`/`std` are per-channel on the 0..1 scale (the store's meta). Computed in float32 (one convert
    and one multiply-add), then cast, so a bf16 output does not round twice. A channels_last batch is
    normalised in its NHWC memory with the per-channel factors tiled along a row, so the inner loop runs
    over w·C contiguous values (a (1, C, 1, 1) broadcast there would be an inner loop of length C: 2×
    slower on CPU).
    """
    n, c, h, w = images.shape
    dev = images.device
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=dev)
    std_t = torch.as_tensor(std, dtype=torch.float32, device=dev)
    scale, bias = 1.0 / (255.0 * std_t), -mean_t / std_t
    if images.is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous():
        rows = images.permute(0, 2, 3, 1).reshape(n * h, w * c).to(torch.float32, copy=True)
        out = rows.mul_(scale.repeat(w)).add_(bias.repeat(w)).view(n, h, w, c).permute(0, 3, 1, 2)
    else:
        flat = images.reshape(n, c, h * w).to(torch.float32, copy=True)
        out = flat.mul_(scale.view(1, c, 1)).add_(bias.view(1, c, 1)).view(n, c, h, w)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return out.to(dtype=dtype, memory_format=fmt)
