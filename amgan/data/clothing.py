"""``clothing_dataset`` -- real phone photos of garments (``clothing-dataset``, CC0 1.0).

Source layout (as published, kept by ``../shared/data/clothing-dataset``)::

    images/<image>.jpg     RGB JPEG, 400 px wide
    images.csv             image, sender_id, label, kids

``image`` is the file name without ``.jpg`` (a name that already ends in ``.jpg`` is taken
as is), ``sender_id`` the contributor, ``label`` the garment class, ``kids`` ``True`` or
``False`` (children's clothes).

Output: a manifest in :data:`~amgan.attributes.SYNTH_SCHEMA` (the SynthFashion schema, so
one model trains on both), ``view`` = ``photo``, ``product_id`` = the image name (each
photo is one garment), images copied byte for byte to ``out/images/<image>.jpg``, plus
``out/source.csv`` (``path, image, sender_id, label, kids``: what the manifest has no
column for) and ``out/conversion.json`` (counts kept and dropped per class, splits,
unknown labels per group).

Classes kept and what the class tells (everything else is unknown, an empty cell):

=============  ==========  ===========  =========
class          category    sleeve       neckline
=============  ==========  ===========  =========
T-Shirt        top         short
Polo           top         short        collar
Longsleeve     top         long
Hoodie         top         long
Blazer         top         long
Shirt          top                      collar
Blouse         top
Top            top
Undershirt     top
Outwear        top
Dress          dress
=============  ==========  ===========  =========

Why: a T-shirt and a polo have short sleeves and a longsleeve, hoodie and blazer long
ones by definition; shirts, blouses, tops, undershirts (tank tops and short-sleeved
vests), outerwear (coats, jackets and gilets) and dresses come with any sleeve, so the
class does not decide it. Polos and (button-up) shirts have a collar; nothing else
decides the neckline. Outwear and blazers are kept as ``top`` (upper-body garments with
sleeves and a neckline, the schema's only upper-body category). Dropped: Pants, Shorts,
Skirt, Shoes, Hat (not a top or dress), Body (bodysuits, mostly babies' one-pieces),
Other, Not sure, Skip (no class). Children's clothes are kept (``kids=False`` drops
them). ``color`` and ``pattern`` are unknown here: ``amgan data annotate`` fills the
colour from the garment's pixels (:mod:`amgan.data.annotate`).

Split by contributor, never by photo (one person's photos share a floor, a light and a
phone): :func:`~amgan.data.converters.common.hash_split` of ``sender_id`` (about
80/10/10 train/val/test by contributor, deterministic).

Every problem is reported at once as ``images.csv:LINE: what is wrong`` (missing column,
empty or repeated image, unknown class, an image name with ``..``, an absolute path or a
symlink leading outside ``root/images``, a missing file, a file that does not decode as an
image). ``skip_unreadable=True`` drops photos that do not decode instead of stopping, and
lists them, with their lines, in ``conversion.json`` and the message it prints.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Iterable

from PIL import Image
from tqdm import tqdm

from amgan.attributes import SYNTH_SCHEMA
from amgan.data.converters.common import Problems, finish, hash_split
from amgan.data.paths import SafeFolder
from amgan.io import atomic_write_bytes, atomic_write_text

__all__ = ["convert_clothing_dataset", "CLASS_TABLE", "DROPPED_CLASSES", "VIEW", "FORMAT"]

FORMAT = "clothing_dataset"
VIEW = "photo"
COLUMNS = ("image", "sender_id", "label", "kids")

# class -> (category, sleeve, neckline); None = the class does not decide it (unknown)
CLASS_TABLE: dict[str, tuple[str, str | None, str | None]] = {
    "T-Shirt": ("top", "short", None),
    "Polo": ("top", "short", "collar"),
    "Longsleeve": ("top", "long", None),
    "Hoodie": ("top", "long", None),
    "Blazer": ("top", "long", None),
    "Shirt": ("top", None, "collar"),
    "Blouse": ("top", None, None),
    "Top": ("top", None, None),
    "Undershirt": ("top", None, None),
    "Outwear": ("top", None, None),
    "Dress": ("dress", None, None),
}
DROPPED_CLASSES = ("Pants", "Shorts", "Skirt", "Shoes", "Hat", "Body", "Other", "Not sure", "Skip")

# what PIL raises for a file that is not a whole image
_NOT_AN_IMAGE = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def _decode_problem(src: Path) -> str | None:
    """``None`` when ``src`` decodes completely as an image, else why not (one line)."""
    try:
        with Image.open(src) as im:
            im.load()  # a full decode: a truncated JPEG fails here, not only in verify()
            if im.width < 8 or im.height < 8:
                return f"image is only {im.width}x{im.height} px"
    except _NOT_AN_IMAGE as e:
        return f"not a readable image ({type(e).__name__}: {e})"
    return None


def _parse_kids(v: str) -> bool | None:
    return {"true": True, "false": False, "1": True, "0": False, "": False}.get(v.strip().lower())


def convert_clothing_dataset(
    root,
    out,
    *,
    overwrite: bool = False,
    progress: bool = True,
    kids: bool = True,
    classes: Iterable[str] | None = None,
    skip_unreadable: bool = False,
) -> Path:
    """Convert ``root`` (the clothing-dataset layout) to a manifest folder ``out``; returns ``out``.

    ``kids=False`` drops children's clothes; ``classes`` keeps only these classes (each
    must be in :data:`CLASS_TABLE`); ``skip_unreadable`` drops photos that do not decode
    (listed in ``conversion.json``) instead of refusing the whole set. An existing,
    non-empty ``out`` is refused unless ``overwrite``.
    """
    root, out = Path(root), Path(out)
    pr = Problems(FORMAT, root)
    if not root.is_dir():
        pr.add(root, None, "the data set folder (--root) does not exist or is not a folder")
    elif out.exists() and not out.is_dir():
        pr.add(out, None, "the output (--out) is an existing file; it must be a folder (new or empty)")
    elif out.exists() and out.resolve() == root.resolve():
        pr.add(out, None, "the output folder must differ from the data set folder")
    elif out.is_dir() and any(out.iterdir()) and not overwrite:
        pr.add(out, None, "the output folder is not empty; pass overwrite=True (--overwrite) to write into it")
    pr.raise_if_any()

    keep = dict(CLASS_TABLE)
    if classes is not None:
        classes = list(classes)
        bad = [c for c in classes if c not in CLASS_TABLE]
        if bad:
            pr.add(root, None, f"cannot keep class(es) {bad}: the classes that can be kept are {', '.join(CLASS_TABLE)}")
            pr.raise_if_any()
        keep = {c: CLASS_TABLE[c] for c in classes}

    f_csv = root / "images.csv"
    header, table = pr.read_table(f_csv, "file not found (the list of photos: image, sender_id, label, kids)")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        pr.add(f_csv, 1, f"missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}, got {', '.join(header) or 'none'}")
        pr.raise_if_any()

    base = SafeFolder(root / "images", f"the image folder {root / 'images'}")
    kept_by_class: Counter = Counter()
    dropped: Counter = Counter()
    first_line: dict[str, int] = {}
    todo: list[tuple[int, dict]] = []  # (line, cells) of kept rows
    for line, cells in table:
        if len(cells) != len(header):
            pr.add(f_csv, line, f"expected {len(header)} fields ({','.join(header)}), got {len(cells)}")
            continue
        c = dict(zip(header, cells))
        name, sender, label = c["image"], c["sender_id"], c["label"]
        if not name:
            pr.add(f_csv, line, "empty image name")
            continue
        if not sender:
            pr.add(f_csv, line, "empty sender_id (the split is by contributor)")
        is_kid = _parse_kids(c["kids"])
        if is_kid is None:
            pr.add(f_csv, line, f"kids must be True or False, got {c['kids']!r}")
        if name in first_line:
            pr.add(f_csv, line, f"duplicate image {name!r} (first at line {first_line[name]})")
            continue
        first_line[name] = line
        if label not in CLASS_TABLE and label not in DROPPED_CLASSES:
            pr.add(f_csv, line, f"unknown class {label!r}; classes: {', '.join([*CLASS_TABLE, *DROPPED_CLASSES])}")
            continue
        if label not in keep:
            dropped[label] += 1
            continue
        if is_kid and not kids:
            dropped["kids"] += 1
            continue
        todo.append((line, c))
    pr.raise_if_any()
    if not todo:
        pr.add(f_csv, None, f"no photo of a kept class ({', '.join(keep)})")
        pr.raise_if_any()

    # every image: a safe name, a file, a full decode
    rows, source_rows, unreadable = [], [], []
    for line, c in tqdm(todo, desc=f"{FORMAT}: checking photos", unit="img", disable=not progress):
        name = c["image"] if c["image"].lower().endswith((".jpg", ".jpeg")) else c["image"] + ".jpg"
        bad = base.problem(name, "image")
        if bad is None and not base.path(name).is_file():
            bad = f"image file not found: images/{name}"
        if bad:
            pr.add(f_csv, line, bad)
            continue
        why = _decode_problem(base.path(name))
        if why:
            unreadable.append((line, name, why))
            if not skip_unreadable:
                pr.add(f_csv, line, f"images/{name}: {why}")
            continue
        category, sleeve, neckline = keep[c["label"]]
        dst = (Path("images") / Path(name).name).as_posix()
        rows.append({
            "path": dst, "product_id": Path(name).stem, "view": VIEW, "split": hash_split(c["sender_id"]),
            "category": category, "color": None, "pattern": None, "sleeve": sleeve, "neckline": neckline,
        })
        source_rows.append((dst, c["image"], c["sender_id"], c["label"], str(_parse_kids(c["kids"]))))
        kept_by_class[c["label"]] += 1
    if unreadable and not skip_unreadable:
        pr.items.insert(0, f"{len(unreadable)} of {len(todo)} photos do not decode (skip_unreadable=True,"
                           " --skip-unreadable, drops them)")
    pr.raise_if_any()
    if not rows:
        pr.add(f_csv, None, "every kept photo is unreadable")
        pr.raise_if_any()

    out.mkdir(parents=True, exist_ok=True)
    src_of = {r[0]: base.path(Path(r[0]).name) for r in source_rows}
    for dst in tqdm(src_of, desc=f"{FORMAT}: copying photos", unit="img", disable=not progress):
        atomic_write_bytes(out / dst, src_of[dst].read_bytes())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "image", "sender_id", "label", "kids"])
    w.writerows(source_rows)
    atomic_write_text(out / "source.csv", buf.getvalue())

    opts = {"kids": kids, "classes": ",".join(keep), "skip_unreadable": skip_unreadable}
    finish(FORMAT, root, out, SYNTH_SCHEMA, rows, opts)
    meta = json.loads((out / "conversion.json").read_text())
    senders = {}
    for dst, _, sid, _, _ in source_rows:
        senders.setdefault(hash_split(sid), set()).add(sid)
    meta.update({
        "kept_by_class": dict(sorted(kept_by_class.items())),
        "dropped_by_class": dict(sorted(dropped.items())),
        "contributors": {s: len(v) for s, v in sorted(senders.items())},
        "unreadable": [f"images.csv:{line}: images/{name}: {why}" for line, name, why in unreadable],
    })
    atomic_write_text(out / "conversion.json", json.dumps(meta, indent=2) + "\n")
    if unreadable and progress:
        print(f"{FORMAT}: skipped {len(unreadable)} unreadable photo(s):", file=sys.stderr)
        for line, name, why in unreadable:
            print(f"  images.csv:{line}: images/{name}: {why}", file=sys.stderr)
    return out
