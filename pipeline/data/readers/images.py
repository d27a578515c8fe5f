"""Turn an image source (file, patch, array row) into uint8 RGB pixels at the storage resolution.

Resizing is Pillow's `Image.resize((r, r), filter)` on the RGB image: the aspect ratio is not kept and
nothing is cropped (as C17 did), so a stored image holds the whole source. The default filter is BOX, the
one C17 released its files with (an area average: antialiased, and the cheapest of the antialiased
filters); a catalogue entry may choose another (`resize_filter`). Images already at the storage size are
not resampled.

Files and array files are cached per process (one quadrat photo serves all its points; one pickle serves
all its rows), which is why prepare hands a worker consecutive samples.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.data.readers import ArrayRow, ImageSource, Patch
from pipeline.data.safe_pickle import load_dict

FILTERS = {
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "hamming": Image.Resampling.HAMMING,
    "nearest": Image.Resampling.NEAREST,
}


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB version of any Pillow image (palette, grey, CMYK, alpha dropped); RGB input is returned as is."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "I;16", "I;16B", "F"):  # 16/32-bit grey: scale to 8 bits before converting
        array = np.asarray(image, dtype=np.float64)
        top = array.max() or 1.0
        image = Image.fromarray(np.clip(array * (255.0 / top), 0, 255).astype(np.uint8))
    return image.convert("RGB")


@lru_cache(maxsize=2)
def _photo(path: str) -> Image.Image:
    with Image.open(path) as image:
        return to_rgb(image).copy() if image.mode == "RGB" else to_rgb(image)


@lru_cache(maxsize=1)
def _array_file(path: str) -> np.ndarray:
    """The `data` array of a CIFAR/C17 pickle (restricted unpickler) or npz."""
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            return np.asarray(z["data"], dtype=np.uint8)
    return np.asarray(load_dict(path)["data"], dtype=np.uint8)


def load_pixels(source: ImageSource, resolution: int, resize_filter: str = "box") -> np.ndarray:
    """uint8 (resolution, resolution, 3) RGB pixels of one source; raises on unreadable input."""
    if isinstance(source, ArrayRow):
        from pipeline.data.c17 import from_planar

        pixels = from_planar(_array_file(source.path)[source.row : source.row + 1])[0]
        if pixels.shape[0] == resolution:
            return pixels
        image = Image.fromarray(pixels)
    elif isinstance(source, Patch):
        half = source.size // 2
        box = (
            source.col - half,
            source.row - half,
            source.col - half + source.size,
            source.row - half + source.size,
        )
        image = _photo(source.path).crop(box)
    else:
        with Image.open(Path(source)) as opened:
            image = to_rgb(opened)
            if image.size == (resolution, resolution):
                return np.asarray(image)
            return np.asarray(image.resize((resolution, resolution), FILTERS[resize_filter]))
    if image.size != (resolution, resolution):
        image = image.resize((resolution, resolution), FILTERS[resize_filter])
    return np.asarray(image)
