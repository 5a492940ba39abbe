"""Converters: real fashion data sets -> manifest folders.

``convert(format, root, out, **opts)`` reads a data set in its published layout under
``root`` and writes ``out/manifest.csv``, ``out/schema.json``, ``out/conversion.json``
(format, options, counts, unknown labels per group) and the images under ``out/images/``
(copied, or cropped to the annotated box and saved as PNG). Every problem in the input is
reported at once in a :class:`ConverterError` as ``FILE:LINE: what is wrong`` (FILE
relative to ``root``). Nothing is written until the whole input is clean: every image
name must stay inside its folder (no absolute path, no ``..``, no symlink leading out),
every image must open and verify with PIL, and every output must land inside ``out``
(:mod:`amgan.data.converters.images`). Value names are sanitised to ``[a-z][a-z0-9_]*``
(:func:`sanitize`).

One module per format, each documenting its layout; :data:`CONVERTERS` maps the format
names to their functions:

- ``deepfashion_category`` (:mod:`.deepfashion_category`): Category and Attribute Prediction.
- ``deepfashion_synthesis`` (:mod:`.deepfashion_synthesis`): the FashionGAN subset AMGAN used.
- ``deepfashion_inshop`` (:mod:`.deepfashion_inshop`): In-shop Clothes Retrieval.
- ``shopping100k`` (:mod:`.shopping100k`): the ADDE split files.
- ``folder_csv`` (:mod:`.folder_csv`): any folder of images plus a CSV.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from amgan.data.converters.common import ConverterError, hash_split, sanitize
from amgan.data.converters.deepfashion_category import convert_deepfashion_category
from amgan.data.converters.deepfashion_inshop import convert_deepfashion_inshop
from amgan.data.converters.deepfashion_synthesis import convert_deepfashion_synthesis
from amgan.data.converters.folder_csv import convert_folder_csv
from amgan.data.converters.shopping100k import (
    SHOPPING100K_ATTR_NUM, SHOPPING100K_GROUPS, convert_shopping100k,
)
from amgan.errors import UserError

__all__ = [
    "convert", "CONVERTERS", "FORMATS", "ConverterError", "sanitize", "hash_split",
    "convert_deepfashion_category", "convert_deepfashion_inshop", "convert_deepfashion_synthesis",
    "convert_folder_csv", "convert_shopping100k", "convert_clothing_dataset", "SHOPPING100K_GROUPS", "SHOPPING100K_ATTR_NUM",
]

def convert_clothing_dataset(root, out, **opts) -> Path:
    """Real phone photos (``clothing-dataset``, CC0): :func:`amgan.data.clothing.convert_clothing_dataset`."""
    from amgan.data.clothing import convert_clothing_dataset as convert_photos

    return convert_photos(root, out, **opts)


CONVERTERS: dict[str, Callable[..., Path]] = {
    "deepfashion_category": convert_deepfashion_category,
    "deepfashion_synthesis": convert_deepfashion_synthesis,
    "deepfashion_inshop": convert_deepfashion_inshop,
    "shopping100k": convert_shopping100k,
    "folder_csv": convert_folder_csv,
    "clothing_dataset": convert_clothing_dataset,
}
FORMATS = CONVERTERS  # the older name


def convert(format: str, root, out, **opts) -> Path:
    """Convert the data set at ``root`` (in ``format``'s layout) to a manifest folder ``out``."""
    try:
        fn = CONVERTERS[format]
    except KeyError:
        raise UserError(f"unknown format {format!r}; formats: {', '.join(CONVERTERS)}") from None
    return fn(root, out, **opts)
