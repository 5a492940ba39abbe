"""Copying (or cropping) a data set's images into the output folder, safely.

Two passes. :func:`check_images` validates every job and writes nothing: the source name
must be relative to its folder and stay inside it (symlinks resolved, see
:class:`~amgan.data.paths.SafeFolder`), the source must be a file that PIL recognises and
verifies as an image, a crop box must lie inside it, the output must land inside ``out``,
not on its own source, and no two jobs may write the same output. Only when the whole
list is clean does :func:`write_images` copy or crop.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from amgan.data.converters.common import Problems
from amgan.data.paths import SafeFolder
from amgan.io import atomic_save_image, atomic_write_bytes

# what opening or verifying a file that is not a (whole) image raises
_NOT_AN_IMAGE = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


@dataclass(frozen=True)
class ImageJob:
    """Copy ``base/name`` to ``out/dst`` (or crop to ``bbox`` = x1, y1, x2, y2 and save PNG).

    ``file``/``line``: where ``name`` (or the box) was read, for problems.
    """

    base: SafeFolder
    name: str
    dst: str
    bbox: tuple[int, int, int, int] | None
    file: Path
    line: int | None

    @property
    def src(self) -> Path:
        return self.base.path(self.name)


def _image_problem(job: ImageJob) -> str | None:
    src = job.src
    if not src.is_file():
        return f"image file not found: {src}"
    try:
        with Image.open(src) as im:
            w, h = im.size
            im.verify()  # the file's structure (PNG: every chunk checksum), without decoding
    except _NOT_AN_IMAGE as e:
        return f"not a readable image: {job.name} ({type(e).__name__}: {e})"
    if job.bbox is not None:
        x1, y1, x2, y2 = job.bbox
        if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
            return f"bounding box ({x1}, {y1}, {x2}, {y2}) is empty or outside the {w}x{h} image {src.name}"
    return None


def check_images(jobs: list[ImageJob], out: Path, pr: Problems, fmt: str, progress: bool) -> None:
    """Validate every job (nothing is written); problems go to ``pr``, one per job at most."""
    out_folder = SafeFolder(out, "the output folder (--out)")
    first: dict[str, ImageJob] = {}
    for job in tqdm(jobs, desc=f"{fmt}: checking images", unit="img", disable=not progress):
        bad = job.base.problem(job.name, "image path") or out_folder.problem(job.dst, "output path")
        if bad is None and job.dst in first:
            f0 = first[job.dst]
            bad = f"output {job.dst} would also be written for {Path(f0.file).name}:{f0.line} ({f0.name})"
        if bad is None and os.path.realpath(out / job.dst) == os.path.realpath(job.src):
            bad = f"output {job.dst} is its own source {job.src}; choose another --out"
        bad = bad or _image_problem(job)
        if bad:
            pr.add(job.file, job.line, bad)
        first.setdefault(job.dst, job)


def write_images(jobs: list[ImageJob], out: Path, pr: Problems, fmt: str, progress: bool) -> None:
    """Copy or crop every (checked) job into ``out``; a decoding failure goes to ``pr``."""
    for job in tqdm(jobs, desc=f"{fmt}: images", unit="img", disable=not progress):
        dst = out / job.dst
        if job.bbox is None:
            atomic_write_bytes(dst, job.src.read_bytes())
            continue
        try:
            with Image.open(job.src) as im:
                crop = im.convert("RGB").crop(job.bbox)
        except _NOT_AN_IMAGE as e:
            pr.add(job.file, job.line, f"cannot decode image {job.name}: {e}")
            continue
        atomic_save_image(dst, crop)


def export_images(jobs: list[ImageJob], out: Path, pr: Problems, fmt: str, progress: bool) -> None:
    """:func:`check_images`, raise if anything (so far) is wrong, then :func:`write_images`."""
    check_images(jobs, out, pr, fmt, progress)
    pr.raise_if_any()
    write_images(jobs, out, pr, fmt, progress)
    pr.raise_if_any()


def source_folder(root: Path, images: Path) -> SafeFolder:
    """The folder image names are relative to, labelled for messages."""
    same = Path(images) == Path(root)
    return SafeFolder(images, "the data set folder (--root)" if same else f"the image folder {images}")
