"""``amgan edit``: the region-specific edit scripts, for one image or a manifest."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from amgan.io import atomic_save_image, atomic_write_text


def _open(path) -> Image.Image:
    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except FileNotFoundError:
        raise FileNotFoundError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path} is not a readable image ({e})") from None


def run_edit(args) -> int:
    from amgan.editor import Editor

    ed = Editor.from_checkpoint(args.checkpoint, device=args.device)
    request = ed.schema.parse_edit(args.request)
    region = None if args.region == "whole" else args.region
    if args.image:
        res = ed.edit(_open(args.image), request, region=region)
        atomic_save_image(args.out, res.image)
        if args.mask_out:
            atomic_save_image(args.mask_out, res.mask)
        print(json.dumps({"out": args.out, "request": res.request, "region": res.region,
                          "source": res.source_attributes, "timings": res.timings}))
        return 0
    from amgan.data.manifest import read_manifest

    m = read_manifest(args.manifest)
    out = Path(args.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in tqdm(range(len(m)), desc="editing", unit="img"):
        res = ed.edit(_open(m.image_path(i)), request, region=region)
        name = Path(m.paths[i]).stem + ".png"
        atomic_save_image(out / "images" / name, res.image)
        atomic_save_image(out / "masks" / name, res.mask)
        rows.append({"source": str(m.image_path(i)), "edit": f"images/{name}", "mask": f"masks/{name}",
                     **{f"source_{k}": v for k, v in res.source_attributes.items()}})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(out / "edits.csv", buf.getvalue())
    print(json.dumps({"out": str(out), "edited": len(rows), "request": request, "region": region or "whole"}))
    return 0
