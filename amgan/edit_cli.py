"""``amgan edit``: the region-specific edit scripts, for one image or a manifest.

    amgan edit --checkpoint C --image IN.jpg --edit "make it red" [--region sleeves] --out OUT.jpg
    amgan edit --checkpoint C --manifest DIR --edit color=blue --region torso --out DIR

The output format follows the suffix of ``--out`` (PNG, JPEG or WebP). A manifest batch
writes ``edits/<the source's path relative to its data folder>`` (so ``x.png`` and
``sub/x.png`` never collide), the masks likewise under ``masks/``, and ``edits.csv`` for
every row done, also when a later row fails (the run then stops with the row's error).
"""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from tqdm import tqdm

from amgan.errors import UserError
from amgan.io import atomic_save_image, atomic_write_text, remove_orphans

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def image_format(path) -> str:
    """The PIL format for an output path, from its suffix; anything else is a UserError."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"--out {path}: unknown image type {suffix or '(no suffix)'!r}; "
                        f"use one of {', '.join(sorted(FORMATS))}")
    return FORMATS[suffix]


def device_or_error(device):
    """``--device``: None (cuda when present), cpu, cuda or cuda:N of a GPU that is there."""
    if not device:
        return device
    import torch

    try:
        dev = torch.device(str(device))
    except (RuntimeError, ValueError):
        raise UserError(f"--device {str(device)[:40]}: not a device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {device}: no CUDA GPU is available here; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(f"--device {device}: there are {torch.cuda.device_count()} CUDA GPU(s) here "
                            f"(cuda:0..cuda:{torch.cuda.device_count() - 1})")
    elif dev.type != "cpu":
        raise UserError(f"--device {device}: only cpu and cuda are supported")
    return device


def _check_parents(path: Path, flag: str) -> None:
    """The nearest existing folder above ``path`` must be a folder (not a file), so the output can be made."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{flag} {path}: {parent} is a file, not a folder")
            return


def _save(path: Path, image, fmt: str) -> None:
    atomic_save_image(path, image.convert("RGB") if fmt == "JPEG" else image, format=fmt)


def run_edit(args) -> int:
    from amgan.editor import Editor

    if args.request_deprecated is not None:
        print("amgan edit: --set is deprecated for the request; use --edit (it goes away in the next release)",
              file=sys.stderr)
    request_text = args.request if args.request is not None else args.request_deprecated
    if request_text is None:
        raise UserError("say what to change with --edit, e.g. --edit \"make it red\" or --edit color=red")
    region = None if args.region == "whole" else args.region
    spread = getattr(args, "colour_spread", None)
    if spread is not None and not 0.0 <= spread <= 1.0:  # before a model loads; also refuses nan
        raise UserError(f"--even-colour must be in [0, 1] (1: one dye over the whole garment), got {spread}")
    out = Path(args.out)
    if args.image:
        for flag, path in (("--out", out), ("--mask-out", args.mask_out)):
            if path and Path(path).is_dir():
                raise UserError(f"{flag} {path} is a folder; give the output image's file name, "
                                f"e.g. {Path(path) / 'edit.png'}")
            if path:
                _check_parents(Path(path), flag)
        fmt = image_format(out)
        mask_fmt = image_format(args.mask_out) if args.mask_out else None
    elif out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder (a manifest batch writes a folder)")
    else:
        _check_parents(out, "--out")
    ed = Editor.from_checkpoint(args.checkpoint, device=device_or_error(args.device), int8=getattr(args, "int8", None))
    request = ed.schema.parse_edit(request_text)
    source = ed.schema.parse_values(args.source) or None
    if args.image:
        res = ed.edit(args.image, request, region=region, source=source,
                      keep_background=args.keep_background, colour_spread=spread,
                      sleeve_method=getattr(args, "sleeve_method", "outline"),
                      pattern_method=getattr(args, "pattern_method", "drawn"))
        for note in res.caveats:  # what this edit is known to do badly, or how it was made
            print(f"amgan edit: note: {note}", file=sys.stderr)
        _save(out, res.image, fmt)
        if args.mask_out:
            _save(Path(args.mask_out), res.mask, mask_fmt)
        print(json.dumps({"out": str(out), "request": res.request, "region": res.region,
                          "source": res.source_attributes, "background_kept": res.background_kept,
                          "method": res.method, "caveats": res.caveats, "timings": res.timings}))
        return 0
    from amgan.data.manifest import read_manifest

    m = read_manifest(args.manifest)
    for note in ed.caveats_for(request):  # what this model is known to do badly with this request
        print(f"amgan edit: note: {note}", file=sys.stderr)
    remove_orphans(out)  # temp files of an earlier batch that was killed (older than a minute)
    rows, failed = [], None
    try:
        for i in tqdm(range(len(m)), desc="editing", unit="img"):
            rel = Path(m.paths[i]).with_suffix(".png")  # inside the data folder: checked by read_manifest
            try:
                res = ed.edit(m.image_path(i), request, region=region, source=source,
                              keep_background=args.keep_background, colour_spread=spread,
                              sleeve_method=getattr(args, "sleeve_method", "outline"),
                      pattern_method=getattr(args, "pattern_method", "drawn"))
            except UserError as e:
                failed = f"{m.paths[i]}: {e}"
                break
            atomic_save_image(out / "edits" / rel, res.image)
            atomic_save_image(out / "masks" / rel, res.mask)
            rows.append({"source": str(m.image_path(i)), "edit": f"edits/{rel.as_posix()}",
                         "mask": f"masks/{rel.as_posix()}",
                         **{f"source_{k}": v for k, v in res.source_attributes.items()}})
    finally:
        if rows:
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
            atomic_write_text(out / "edits.csv", buf.getvalue())
    if failed:
        raise UserError(f"stopped after {len(rows)} of {len(m)} edits (edits.csv lists them): {failed}")
    print(json.dumps({"out": str(out), "edited": len(rows), "request": request, "region": region or "whole",
                      "caveats": ed.caveats_for(request)}))
    return 0
