"""Pattern edits of real photos: drawn on the garment (``amgan.pattern``, the editor's default) against the generator.

For each photo of the split whose pattern a label gives as solid (and whose garment the annotator found; the test
split has no pattern labels, so there every photo with a garment, mostly plain, a few with a print), every
drawn pattern (striped, checked, dotted, floral) is requested both ways, ``Editor.edit(photo, {"pattern": p},
pattern_method=...)``, and measured by:

- the independent judge (``checkpoints/evaluator_photo128``, a photo reader that played no part in the edit) reading
  the requested pattern; beside it, how often the judge reads each pattern on unedited photos labelled with it (what
  its verdict is worth: where it seldom reads a pattern on real photos of it, a miss says little);
- the border change: mean |edit - photo| on the photo's outer 5% band (0..1; the floor should not change);
- the garment's colour name kept (the annotator's majority name of the garment's pixels, before and after: a pattern
  is a print on the same fabric, so the garment's dominant colour should stay);
- time per edit.

    python bench/pattern_edits.py --split val            # choose here
    python bench/pattern_edits.py --split test           # measured once
    python bench/pattern_edits.py --split val --sheet docs/pattern_edits.jpg --photos 6
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def measure(photos: Path, editor: str, judge: str, split: str, limit: int, methods=("drawn", "generator")) -> dict:
    import torch
    from PIL import Image

    from amgan import probes as P
    from amgan.data.manifest import read_manifest
    from amgan.editor import Editor
    from amgan.evaluate_edits import load_judge
    from amgan.image import to_rgb
    from amgan.intervals import accuracy_with_ci
    from amgan.pattern import DRAWN_PATTERNS

    torch.set_num_threads(2)
    ed = Editor.from_checkpoint(editor)
    jd = load_judge(judge, ed, "--judge")
    m = read_manifest(photos / "manifest.csv")
    pi = m.schema.group_index("pattern")
    values = m.schema.group("pattern").values
    epi = ed.schema.group_index("pattern")
    rows = [i for i in m.indices(split, None) if m.masks[i]]
    solid = [i for i in rows if m.labels[i, pi] == values.index("solid")][:limit]
    source = "labelled solid"
    if not solid:  # the test split has no pattern labels: every photo (most are plain; a few carry a print)
        solid, source = [i for i in rows if m.labels[i, pi] < 0][:limit], "pattern unlabelled"
    unedited = {}
    for i in rows:  # the judge on unedited photos of each pattern
        v = int(m.labels[i, pi])
        if v >= 0:
            unedited.setdefault(values[v], []).append(bool(jd.read_image(to_rgb(m.image_path(i)))[epi] == v))
    out = {"split": split, "photos": len(solid), "photos_are": source, "judge_on_unedited": {k: accuracy_with_ci(v) for k, v in
                                                                         sorted(unedited.items())}}
    for method in methods:
        hits, per, border, kept, secs, methods = [], {p: [] for p in DRAWN_PATTERNS}, [], [], [], {}
        for i in solid:
            photo = to_rgb(m.image_path(i))
            arr = np.asarray(photo)
            with Image.open(m.mask_path(i)) as mk:
                mask = np.asarray(mk) > 0
            before = P.colour_reading(arr, mask).best
            for p in DRAWN_PATTERNS:
                t = time.perf_counter()
                res = ed.edit(photo, {"pattern": p}, pattern_method=method)
                secs.append(time.perf_counter() - t)
                e = np.asarray(res.image)
                ok = bool(jd.read_image(res.image)[epi] == ed.schema.group("pattern").index(p))
                hits.append(ok)
                per[p].append(ok)
                border.append(P.background_change(arr, e, mask)["border"])
                kept.append(P.colour_reading(e, mask).best == before)
                methods[res.method] = methods.get(res.method, 0) + 1
        out[method] = {"judge_reads_requested": accuracy_with_ci(hits),
                       "per_pattern": {p: accuracy_with_ci(v) for p, v in per.items()},
                       "border_change": round(float(np.mean(border)), 4) if border else None,
                       "colour_name_kept": accuracy_with_ci(kept), "seconds_per_edit": round(float(np.median(secs)), 3)
                       if secs else None, "methods": methods}
    return out


def sheet(photos: Path, editor: str, split: str, n: int, out: Path, tile: int = 300) -> Path:
    """Photos of ``split`` labelled solid (every third, in manifest order) beside their four drawn patterns."""
    from PIL import Image

    from amgan.data.manifest import read_manifest
    from amgan.editor import Editor
    from amgan.image import to_rgb
    from amgan.io import atomic_save_image
    from amgan.pattern import DRAWN_PATTERNS

    ed = Editor.from_checkpoint(editor)
    m = read_manifest(photos / "manifest.csv")
    pi = m.schema.group_index("pattern")
    solid = m.schema.group("pattern").values.index("solid")
    rows = [i for i in m.indices(split, None) if m.masks[i] and m.labels[i, pi] == solid][::3][:n]
    canvas = Image.new("RGB", ((1 + len(DRAWN_PATTERNS)) * tile, len(rows) * tile), "white")
    for r, i in enumerate(rows):
        photo = to_rgb(m.image_path(i))
        for k, pic in enumerate([photo] + [ed.edit(photo, {"pattern": p}).image for p in DRAWN_PATTERNS]):
            pic = pic.copy()
            pic.thumbnail((tile - 4, tile - 4))
            canvas.paste(pic, (k * tile + (tile - pic.width) // 2, r * tile + (tile - pic.height) // 2))
    return atomic_save_image(out, canvas, format="JPEG" if out.suffix.lower() in (".jpg", ".jpeg") else "PNG")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", type=Path, default=ROOT / "data/clothing")
    p.add_argument("--editor", default=str(ROOT / "checkpoints/amgan_photo128"))
    p.add_argument("--judge", default=str(ROOT / "checkpoints/evaluator_photo128"))
    p.add_argument("--split", default="val", choices=("val", "test"))
    p.add_argument("--limit", type=int, default=60, help="solid photos edited")
    p.add_argument("--methods", default="drawn,generator", help="comma-separated: drawn, generator")
    p.add_argument("--sheet", type=Path, default=None, help="draw a sheet of photos and their drawn patterns instead")
    p.add_argument("--photos-on-sheet", dest="n", type=int, default=6)
    a = p.parse_args(argv)
    if a.sheet:
        print(sheet(a.photos, a.editor, a.split, a.n, a.sheet))
        return 0
    print(json.dumps(measure(a.photos, a.editor, a.judge, a.split, a.limit, tuple(a.methods.split(","))), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
