"""Converters: real fashion data sets -> manifest folders.

``convert(format, root, out, **opts)`` reads a data set in its published layout under
``root`` and writes ``out/manifest.csv``, ``out/schema.json``, ``out/conversion.json``
(format, options, counts) and the images under ``out/images/`` (copied, or cropped to the
annotated box and saved as PNG). Every problem in the input is reported at once in a
:class:`ConverterError` as ``FILE:LINE: what is wrong`` (FILE relative to ``root``);
nothing is written to the manifest until the input is clean. Value names are sanitised to
``[a-z][a-z0-9_]*`` (:func:`sanitize`). Formats (:data:`FORMATS`):

``deepfashion_category`` -- DeepFashion Category and Attribute Prediction Benchmark.
    ``Anno/list_attr_cloth.txt``, ``Anno/list_attr_img.txt``, ``Anno/list_category_cloth.txt``,
    ``Anno/list_category_img.txt``, ``Anno/list_bbox.txt``, ``Eval/list_eval_partition.txt``,
    images under ``img/`` (also found as ``Img/img/``). Each list file is: a count line, a
    header line, then one entry per line, columns separated by runs of spaces::

        list_attr_cloth.txt      attribute_name  attribute_type      e.g. "abstract chevron print   1"
        list_category_cloth.txt  category_name  category_type        e.g. "Anorak   1"
        list_attr_img.txt        image_name  attribute_labels        1000 labels in {-1, 0, 1}
        list_category_img.txt    image_name  category_label          1-based into list_category_cloth
        list_bbox.txt            image_name  x_1  y_1  x_2  y_2
        list_eval_partition.txt  image_name  evaluation_status       train | val | test

    Attribute names may contain single spaces: the type is the last token. The five
    attribute types (1 texture, 2 fabric, 3 shape, 4 part, 5 style) become single-valued
    groups ``texture``, ``fabric``, ``shape``, ``part``, ``style`` whose value is the first
    positive attribute of that type in list_attr_cloth order, else ``none``; a type with no
    attributes in the file gives no group. ``category`` (the 50 categories) is not
    manipulable. Images are cropped to their box. The benchmark has no product identity
    and no shop/consumer flag: ``product_id`` is the image name without extension and
    ``view`` is the ``view`` option (default ``shop``). Option ``anno_dir`` (default
    ``Anno``; e.g. ``Anno_coarse``, ``Anno_fine``).
    Sources: DeepFashion README conventions as quoted in public loaders (count line, header
    line, ``-1``/``1`` labels, 1-based category labels, "last token is the type").

``deepfashion_inshop`` -- DeepFashion In-shop Clothes Retrieval Benchmark.
    ``Eval/list_eval_partition.txt`` (header ``image_name item_id evaluation_status``,
    status ``train | query | gallery``), ``Anno/list_bbox_inshop.txt`` (header
    ``image_name  clothes_type  pose_type  x_1  y_1  x_2  y_2``), images under ``img/``
    named like ``img/WOMEN/Dresses/id_00000002/02_1_front.jpg``. item_id -> product_id;
    query -> view ``street``, gallery and train -> view ``shop``; train -> split train,
    query and gallery -> split test. Crops to the box. Groups: ``category`` from the path
    (``women_dresses``; not manipulable) and ``gender`` (``men``/``women``, from the path's
    first folder; manipulable). Gender is the only attribute the release gives every image
    without free text, and it is implied by the category, so a gender edit has no exact
    reference image: this format is for retrieval, not for attribute-editing training.

``shopping100k`` -- Shopping100k in the split-file layout published with ADDE
    (amzn/fashion-attribute-disentanglement, ``splits/Shopping100k``): ``imgs_train.txt`` /
    ``imgs_test.txt`` (one image path per line, relative to the image folder),
    ``labels_train.txt`` / ``labels_test.txt`` (line i: the concatenated one-hot vector of
    image i, space-separated 0/1, an all-zero block meaning "not annotated"), and
    ``attr_num.txt`` (values per attribute type, one integer per line; for Shopping100k
    ``16 17 19 14 10 15 2 11 16 7 9 15``). ``root`` is the folder of those files; option
    ``images_root`` (default ``root/Images`` if it exists, else ``root``). The 12 groups, in
    block order, are category, collar, color, fabric, fastening, fit, gender, length,
    neckline, pattern, pocket, sleeve: ADDE says the first block (16 values) is category,
    and the alphabetical order puts gender (2 values) at block 7, matching attr_num.
    ``category`` is not manipulable. The release names no values: value k is ``v00``,
    ``v01``..., unless option ``value_names`` gives a JSON file ``{group: [names...]}``;
    an unannotated block is the value ``none``. Each image is its own product (catalogue
    images): product_id = path without extension, view ``shop``, splits train/test.

``deepfashion_synthesis`` -- the FashionGAN subset of DeepFashion (Zhu et al. 2017) that
    AMGAN used (colour 17 values, sleeve 4). Its release is ``language_original.mat``
    (per image ``color_`` 1..17, ``sleeve_`` 1..4, ``gender_`` 0..1, ``cate_new`` 1..19,
    plus text), ``ind.mat`` (1-based ``train_ind``/``test_ind``) and ``G2.h5`` (the 128 px
    images ``ih``). Reading them needs scipy and h5py, which this project does not ship,
    so this converter reads a plain-text export of exactly those fields instead::

        root/attributes.txt
            78979                                                    <- count line
            image_name  color  sleeve  gender  category  evaluation_status
            images/000001.png  3  2  0  5  train
        root/images/...                                              <- one file per image

    Columns ``gender`` and ``category`` are optional; codes are those of the .mat file
    (colour/sleeve/category 1-based, gender 0/1); status is ``train``/``test`` (or ``val``).
    The release names no values: code c is ``v{c:02d}`` (``v01``..``v17``), unless
    ``root/value_names.json`` (or option ``value_names``) gives ``{group: [names...]}`` in
    code order. Groups: color, sleeve (manipulable), gender, category (not manipulable).
    product_id = image name without extension, view ``shop``. To export: for image i
    (0-based) write ``ih[i]`` as a PNG and one line with ``color_[i]``, ``sleeve_[i]``,
    ``gender_[i]``, ``cate_new[i]`` and ``train`` if i+1 is in ``train_ind``, else ``test``.

``folder_csv`` -- any folder of images plus a CSV (option ``csv``, default
    ``root/attributes.csv``) with a ``path`` column (relative to ``root``), optional
    ``product_id`` (default: path without extension), ``view`` (default ``shop``),
    ``split`` (default, and for empty cells: by a hash of product_id, 80/10/10 train/val/test,
    deterministic), ``mask``, and one column per attribute group. With option ``schema``
    (a schema.json) columns and values must match it; otherwise the schema is inferred:
    groups in column order, values sorted, every group manipulable except ``category``.
"""
from __future__ import annotations

from amgan.errors import UserError

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from PIL import Image
from tqdm import tqdm

from amgan.attributes import Group, Schema, SchemaError
from amgan.data.manifest import MANIFEST_NAME, SPLITS, write_manifest
from amgan.io import atomic_save_image, atomic_write_bytes, atomic_write_text

__all__ = ["convert", "FORMATS", "ConverterError", "sanitize", "hash_split"]


class ConverterError(UserError):
    """The input data set is not in the expected layout; ``problems`` lists ``FILE:LINE: what``."""

    def __init__(self, fmt: str, root: str | Path, problems: Sequence[str]):
        self.format, self.root, self.problems = fmt, Path(root), list(problems)
        n = len(self.problems)
        super().__init__("\n".join([f"{fmt}: {n} problem{'s' if n != 1 else ''} in {self.root}:", *self.problems]))


class _Problems:
    def __init__(self, fmt: str, root: Path):
        self.fmt, self.root, self.items = fmt, root, []

    def add(self, file: Path | str, line: int | None, text: str) -> None:
        p = Path(file)
        try:
            p = p.relative_to(self.root)
        except ValueError:
            pass
        self.items.append(f"{p.as_posix()}:{line}: {text}" if line else f"{p.as_posix()}: {text}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ConverterError(self.fmt, self.root, self.items)


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------
def sanitize(name: str) -> str:
    """``'Abstract Chevron-Print'`` -> ``'abstract_chevron_print'``; a leading digit gets a ``v``."""
    s = re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")
    if not s:
        return "v"
    return s if s[0].isalpha() else "v" + s


def _unique(names: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    used, out = set(taken), []
    for n in names:
        m, k = n, 2
        while m in used:
            m, k = f"{n}_{k}", k + 1
        used.add(m)
        out.append(m)
    return out


def hash_split(product_id: str) -> str:
    """Deterministic 80/10/10 train/val/test split from a hash of the product id."""
    b = int(hashlib.sha1(product_id.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "train" if b < 8 else ("val" if b == 8 else "test")


def _images_root(root: Path, given) -> Path:
    if given is not None:
        return Path(given)
    if not (root / "img").is_dir() and (root / "Img" / "img").is_dir():
        return root / "Img"
    return root


def _read_list(path: Path, pr: _Problems, first: str, ncols: int | None = None) -> list[tuple[int, list[str]]]:
    """A DeepFashion list file: count line, header line (starting with ``first``), entries."""
    if not path.is_file():
        pr.add(path, None, "file not found")
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or not lines[0].strip().isdigit():
        pr.add(path, 1, f"expected the entry count on line 1, got {lines[0][:60]!r}" if lines else "empty file")
        return []
    if len(lines) < 2 or not lines[1].split() or lines[1].split()[0] != first:
        got = lines[1][:60] if len(lines) > 1 else ""
        pr.add(path, 2, f"expected a header line starting with {first!r} (count line, header line, entries); got {got!r}")
        return []
    entries, n_lines = [], 0
    for k, line in enumerate(lines[2:], start=3):
        toks = line.split()
        if not toks:
            continue
        n_lines += 1
        if ncols is not None and len(toks) != ncols:
            pr.add(path, k, f"expected {ncols} columns, got {len(toks)}")
            continue
        entries.append((k, toks))
    count = int(lines[0].strip())
    if count != n_lines:
        pr.add(path, 1, f"the count line says {count} entries but the file has {n_lines}")
    return entries


def _by_image(path: Path, entries, pr: _Problems) -> dict[str, tuple[int, list[str]]]:
    out: dict[str, tuple[int, list[str]]] = {}
    for line, toks in entries:
        if toks[0] in out:
            pr.add(path, line, f"duplicate image {toks[0]!r} (first at line {out[toks[0]][0]})")
        else:
            out[toks[0]] = (line, toks[1:])
    return out


def _int(tok: str, path: Path, line: int, what: str, pr: _Problems, lo=None, hi=None) -> int | None:
    try:
        v = int(tok)
    except ValueError:
        pr.add(path, line, f"{what} must be an integer, got {tok!r}")
        return None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        pr.add(path, line, f"{what} {v} out of range {lo}..{hi}")
        return None
    return v


def _prepare_out(fmt: str, root: Path, out: Path, overwrite: bool) -> None:
    pr = _Problems(fmt, root)
    if out.resolve() == root.resolve():
        pr.add(out, None, "the output folder must differ from the data set folder")
    elif (out / MANIFEST_NAME).exists() and not overwrite:
        pr.add(out / MANIFEST_NAME, None, "already exists; pass overwrite=True to replace it")
    pr.raise_if_any()


def _export_image(src: Path, dst: Path, bbox=None) -> str | None:
    """Copy ``src`` to ``dst`` (or crop to ``bbox`` = x1, y1, x2, y2 and save as PNG). Returns a problem or None."""
    if not src.is_file():
        return f"image file not found: {src}"
    if bbox is None:
        atomic_write_bytes(dst, src.read_bytes())
        return None
    try:
        with Image.open(src) as im:
            w, h = im.size
            x1, y1, x2, y2 = bbox
            if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
                return f"bounding box ({x1}, {y1}, {x2}, {y2}) is empty or outside the {w}x{h} image {src.name}"
            crop = im.convert("RGB").crop((x1, y1, x2, y2))
    except OSError as e:
        return f"cannot read image {src}: {e}"
    atomic_save_image(dst, crop)
    return None


def _out_name(name: str, crop: bool) -> str:
    p = Path("images") / name
    return (p.with_suffix(".png") if crop else p).as_posix()


def _export_all(jobs, pr: _Problems, fmt: str, progress: bool) -> None:
    """``jobs``: (src, dst, bbox, problem_file, problem_line). Problems go to ``pr``."""
    for src, dst, bbox, pfile, pline in tqdm(jobs, desc=f"{fmt}: images", unit="img", disable=not progress):
        err = _export_image(src, dst, bbox)
        if err:
            pr.add(pfile, pline, err)


def _finish(fmt: str, root: Path, out: Path, schema: Schema, rows: list[dict], opts: dict) -> Path:
    write_manifest(out, schema, rows)
    counts = {s: sum(r["split"] == s for r in rows) for s in SPLITS}
    meta = {"format": fmt, "root": str(root), "options": {k: str(v) for k, v in opts.items()},
            "rows": len(rows), "splits": counts}
    atomic_write_text(out / "conversion.json", json.dumps(meta, indent=2) + "\n")
    return out


def _check_product_splits(records, pr: _Problems) -> None:
    """records: (file, line, product_id, split); one product must stay in one split."""
    seen: dict[str, tuple[str, Path, int]] = {}
    for file, line, pid, split in records:
        if pid in seen and seen[pid][0] != split:
            s0, f0, l0 = seen[pid]
            where = f"line {l0}" if Path(f0) == Path(file) else f"{Path(f0).name}:{l0}"
            pr.add(file, line, f"product {pid!r} is in split {split!r} here but in {s0!r} at {where}")
        seen.setdefault(pid, (split, Path(file), line))


# ---------------------------------------------------------------------------
# DeepFashion Category and Attribute Prediction
# ---------------------------------------------------------------------------
_DF_TYPES = {1: "texture", 2: "fabric", 3: "shape", 4: "part", 5: "style"}


def _name_and_type(path: Path, line: int, toks: list[str], pr: _Problems, hi: int):
    if len(toks) < 2:
        pr.add(path, line, "expected a name and a type")
        return None
    t = _int(toks[-1], path, line, "type", pr, 1, hi)
    return None if t is None else (" ".join(toks[:-1]), t)


def convert_deepfashion_category(
    root, out, *, anno_dir: str = "Anno", images_root=None, view: str = "shop",
    limit: int | None = None, progress: bool = True, overwrite: bool = False,
) -> Path:
    fmt = "deepfashion_category"
    root, out = Path(root), Path(out)
    _prepare_out(fmt, root, out, overwrite)
    pr = _Problems(fmt, root)
    anno, ev = root / anno_dir, root / "Eval"
    f_attr_cloth, f_attr_img = anno / "list_attr_cloth.txt", anno / "list_attr_img.txt"
    f_cat_cloth, f_cat_img = anno / "list_category_cloth.txt", anno / "list_category_img.txt"
    f_bbox, f_part = anno / "list_bbox.txt", ev / "list_eval_partition.txt"

    attrs = [_name_and_type(f_attr_cloth, ln, t, pr, 5) for ln, t in _read_list(f_attr_cloth, pr, "attribute_name")]
    cats = [_name_and_type(f_cat_cloth, ln, t, pr, 3) for ln, t in _read_list(f_cat_cloth, pr, "category_name")]
    n_attr = len(attrs)
    pr.raise_if_any()  # the per-image files are read against these two

    # groups: category, then one group per attribute type present
    cat_values = _unique(sanitize(c[0]) for c in cats)
    type_cols: dict[int, list[int]] = {}
    for j, (_, t) in enumerate(attrs):
        type_cols.setdefault(t, []).append(j)
    groups = [Group("category", tuple(cat_values), manipulable=False)] if len(cat_values) >= 2 else []
    type_value = {}  # attribute column -> value index in its group
    for t in sorted(type_cols):
        names = _unique((sanitize(attrs[j][0]) for j in type_cols[t]), taken=["none"])
        groups.append(Group(_DF_TYPES[t], ("none", *names)))
        for k, j in enumerate(type_cols[t]):
            type_value[j] = k + 1
    try:
        schema = Schema(groups)
    except SchemaError as e:
        pr.add(f_attr_cloth, None, f"cannot build a schema: {e}")
        pr.raise_if_any()

    attr_img = _by_image(f_attr_img, _read_list(f_attr_img, pr, "image_name", 1 + n_attr), pr)
    cat_img = _by_image(f_cat_img, _read_list(f_cat_img, pr, "image_name", 2), pr)
    bbox = _by_image(f_bbox, _read_list(f_bbox, pr, "image_name", 5), pr)
    part = _by_image(f_part, _read_list(f_part, pr, "image_name", 2), pr)
    for f, table in ((f_cat_img, cat_img), (f_bbox, bbox), (f_part, part)):
        for name, (line, _) in table.items():
            if name not in attr_img:
                pr.add(f, line, f"image {name!r} is not in {f_attr_img.relative_to(root).as_posix()}")

    img_root = _images_root(root, images_root)
    rows, jobs = [], []
    for name, (line, toks) in attr_img.items():
        if limit is not None and len(rows) >= limit:
            break
        missing = [f.relative_to(root).as_posix() for f, t in ((f_cat_img, cat_img), (f_bbox, bbox), (f_part, part))
                   if name not in t]
        if missing:
            pr.add(f_attr_img, line, f"image {name!r} has no entry in {', '.join(missing)}")
            continue
        row = {"path": _out_name(name, True), "product_id": str(Path(name).with_suffix("")).replace("\\", "/"),
               "view": view}
        cl, ct = cat_img[name]
        c = _int(ct[0], f_cat_img, cl, "category_label", pr, 1, len(cats))
        if c is not None and "category" in schema.names:
            row["category"] = cat_values[c - 1]
        pl, pt = part[name]
        if pt[0] not in SPLITS:
            pr.add(f_part, pl, f"evaluation_status must be train, val or test, got {pt[0]!r}")
        row["split"] = pt[0]
        bl, bt = bbox[name]
        box = [_int(v, f_bbox, bl, "box coordinate", pr) for v in bt]
        chosen = {}
        for j, tok in enumerate(toks):
            if tok not in ("-1", "0", "1"):
                pr.add(f_attr_img, line, f"attribute label #{j + 1} must be -1, 0 or 1, got {tok!r}")
                break
            t = attrs[j][1]
            if tok == "1" and t not in chosen:
                chosen[t] = type_value[j]
        for t in type_cols:
            g = schema.group(_DF_TYPES[t])
            row[g.name] = g.values[chosen.get(t, 0)]
        if None in box or c is None:
            continue
        rows.append(row)
        jobs.append((img_root / name, out / row["path"], box, f_bbox, bl))
    pr.raise_if_any()
    _export_all(jobs, pr, fmt, progress)
    pr.raise_if_any()
    return _finish(fmt, root, out, schema, rows, {"anno_dir": anno_dir, "view": view, "limit": limit})


# ---------------------------------------------------------------------------
# DeepFashion In-shop Clothes Retrieval
# ---------------------------------------------------------------------------
_INSHOP_SPLIT = {"train": ("train", "shop"), "query": ("test", "street"), "gallery": ("test", "shop")}


def convert_deepfashion_inshop(
    root, out, *, images_root=None, limit: int | None = None, progress: bool = True, overwrite: bool = False
) -> Path:
    fmt = "deepfashion_inshop"
    root, out = Path(root), Path(out)
    _prepare_out(fmt, root, out, overwrite)
    pr = _Problems(fmt, root)
    f_part, f_bbox = root / "Eval" / "list_eval_partition.txt", root / "Anno" / "list_bbox_inshop.txt"
    part = _by_image(f_part, _read_list(f_part, pr, "image_name", 3), pr)
    bbox = _by_image(f_bbox, _read_list(f_bbox, pr, "image_name", 7), pr)
    for name, (line, _) in bbox.items():
        if name not in part:
            pr.add(f_bbox, line, f"image {name!r} is not in Eval/list_eval_partition.txt")

    recs, cats = [], set()
    for name, (line, (item, status)) in part.items():
        if limit is not None and len(recs) >= limit:
            break
        ok = True
        parts = Path(name).parts
        if len(parts) < 4 or parts[0] != "img" or parts[1].lower() not in ("men", "women"):
            pr.add(f_part, line, f"image name {name!r} is not like img/<MEN|WOMEN>/<Category>/<item_id>/<file>")
            ok = False
        if status not in _INSHOP_SPLIT:
            pr.add(f_part, line, f"evaluation_status must be train, query or gallery, got {status!r}")
            ok = False
        if name not in bbox:
            pr.add(f_part, line, f"image {name!r} has no entry in Anno/list_bbox_inshop.txt")
            ok = False
        if not ok:
            continue
        bl, bt = bbox[name]
        box = [_int(v, f_bbox, bl, "box coordinate", pr) for v in bt[2:]]
        if None in box:
            continue
        split, view = _INSHOP_SPLIT[status]
        cat = sanitize(f"{parts[1]}_{parts[2]}")
        cats.add(cat)
        recs.append((line, name, item, split, view, cat, parts[1].lower(), box, bl))
    _check_product_splits(((f_part, r[0], r[2], r[3]) for r in recs), pr)
    pr.raise_if_any()
    if len(cats) < 2:
        cats |= {"unknown"}  # a group needs two values; keep the schema valid for one-category subsets
    schema = Schema([
        Group("category", tuple(sorted(cats)), manipulable=False),
        Group("gender", ("men", "women")),
    ])
    img_root = _images_root(root, images_root)
    rows, jobs = [], []
    for line, name, item, split, view, cat, gender, box, bl in recs:
        row = {"path": _out_name(name, True), "product_id": item, "view": view, "split": split,
               "category": cat, "gender": gender}
        rows.append(row)
        jobs.append((img_root / name, out / row["path"], box, f_bbox, bl))
    _export_all(jobs, pr, fmt, progress)
    pr.raise_if_any()
    return _finish(fmt, root, out, schema, rows, {"limit": limit})


# ---------------------------------------------------------------------------
# Shopping100k (ADDE split files)
# ---------------------------------------------------------------------------
SHOPPING100K_GROUPS = ("category", "collar", "color", "fabric", "fastening", "fit",
                       "gender", "length", "neckline", "pattern", "pocket", "sleeve")
SHOPPING100K_ATTR_NUM = (16, 17, 19, 14, 10, 15, 2, 11, 16, 7, 9, 15)


def _value_names(path, pr: _Problems, sizes: dict[str, int], default: Callable[[str, int], str]) -> dict[str, list[str]]:
    names = {g: [default(g, k) for k in range(n)] for g, n in sizes.items()}
    if path is None:
        return names
    path = Path(path)
    try:
        given = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        pr.add(path, None, f"cannot read value names: {e}")
        return names
    if not isinstance(given, dict):
        pr.add(path, None, "value names must be a JSON object {group: [names...]}")
        return names
    for g, vals in given.items():
        if g not in sizes:
            pr.add(path, None, f"unknown group {g!r}; groups: {', '.join(sizes)}")
        elif not isinstance(vals, list) or len(vals) != sizes[g]:
            pr.add(path, None, f"group {g!r} needs a list of {sizes[g]} names, got {vals!r}")
        else:
            names[g] = _unique(sanitize(v) for v in vals)
    return names


def convert_shopping100k(
    root, out, *, images_root=None, value_names=None, limit: int | None = None,
    progress: bool = True, overwrite: bool = False,
) -> Path:
    fmt = "shopping100k"
    root, out = Path(root), Path(out)
    _prepare_out(fmt, root, out, overwrite)
    pr = _Problems(fmt, root)
    f_num = root / "attr_num.txt"
    attr_num: list[int] = []
    if not f_num.is_file():
        pr.add(f_num, None, "file not found")
    else:
        for k, tok in enumerate(f_num.read_text().split(), start=1):
            v = _int(tok, f_num, None, f"entry #{k}", pr, 2)
            attr_num.append(v or 0)
        if len(attr_num) != len(SHOPPING100K_GROUPS):
            pr.add(f_num, None, f"expected {len(SHOPPING100K_GROUPS)} attribute types "
                   f"({', '.join(SHOPPING100K_GROUPS)}), got {len(attr_num)}")
    pr.raise_if_any()
    sizes = dict(zip(SHOPPING100K_GROUPS, attr_num))
    names = _value_names(value_names, pr, sizes, lambda g, k: f"v{k:02d}")
    pr.raise_if_any()
    schema = Schema([Group(g, ("none", *_unique(names[g], taken=["none"])), manipulable=(g != "category"))
                     for g in SHOPPING100K_GROUPS])
    starts = np.cumsum([0, *attr_num])
    width = int(starts[-1])

    recs = []
    for split in ("train", "test"):
        f_img, f_lab = root / f"imgs_{split}.txt", root / f"labels_{split}.txt"
        if not f_img.exists() and not f_lab.exists() and split == "test":
            continue
        for f in (f_img, f_lab):
            if not f.is_file():
                pr.add(f, None, "file not found")
        if not (f_img.is_file() and f_lab.is_file()):
            continue
        imgs = f_img.read_text().splitlines()
        labs = f_lab.read_text().splitlines()
        while imgs and not imgs[-1].strip():
            imgs.pop()
        while labs and not labs[-1].strip():
            labs.pop()
        if len(imgs) != len(labs):
            pr.add(f_lab, None, f"has {len(labs)} lines but {f_img.name} has {len(imgs)}; line i labels image i")
        for k, (name, lab) in enumerate(zip(imgs, labs), start=1):
            name = name.strip()
            if not name:
                pr.add(f_img, k, "empty image path")
                continue
            toks = lab.split()
            if len(toks) != width or any(t not in ("0", "1") for t in toks):
                pr.add(f_lab, k, f"expected {width} labels, each 0 or 1 (attr_num.txt), got {len(toks)} tokens")
                continue
            v = np.array(toks, dtype=np.int64)
            row = {"path": (Path("images") / name).as_posix(), "product_id": str(Path(name).with_suffix("")),
                   "view": "shop", "split": split}
            ok = True
            for g, a, b in zip(SHOPPING100K_GROUPS, starts[:-1], starts[1:]):
                hot = np.flatnonzero(v[a:b])
                if len(hot) > 1:
                    pr.add(f_lab, k, f"group {g!r} (labels {a + 1}..{b}) has {len(hot)} ones; a block is one-hot")
                    ok = False
                else:
                    row[g] = schema.group(g).values[0 if len(hot) == 0 else int(hot[0]) + 1]
            if ok:
                recs.append((f_img, k, name, row))
    _check_product_splits(((f, k, r["product_id"], r["split"]) for f, k, _, r in recs), pr)
    seen: dict[str, tuple[Path, int]] = {}
    for f, k, name, _ in recs:
        if name in seen:
            pr.add(f, k, f"image {name!r} listed twice (first at {seen[name][0].name}:{seen[name][1]})")
        seen.setdefault(name, (f, k))
    pr.raise_if_any()
    if limit is not None:
        recs = recs[:limit]
    img_root = Path(images_root) if images_root is not None else (
        root / "Images" if (root / "Images").is_dir() else root)
    jobs = [(img_root / name, out / r["path"], None, f, k) for f, k, name, r in recs]
    _export_all(jobs, pr, fmt, progress)
    pr.raise_if_any()
    return _finish(fmt, root, out, schema, [r for *_, r in recs], {"images_root": img_root, "limit": limit})


# ---------------------------------------------------------------------------
# DeepFashion-Synthesis (FashionGAN), plain-text export
# ---------------------------------------------------------------------------
_SYN_GROUPS = {  # column -> (number of codes, first code, manipulable)
    "color": (17, 1, True), "sleeve": (4, 1, True), "gender": (2, 0, False), "category": (19, 1, False),
}


def convert_deepfashion_synthesis(
    root, out, *, value_names=None, limit: int | None = None, progress: bool = True, overwrite: bool = False
) -> Path:
    fmt = "deepfashion_synthesis"
    root, out = Path(root), Path(out)
    _prepare_out(fmt, root, out, overwrite)
    pr = _Problems(fmt, root)
    f_attr = root / "attributes.txt"
    entries = _read_list(f_attr, pr, "image_name")
    lines = f_attr.read_text(encoding="utf-8").splitlines() if f_attr.is_file() else []
    if len(lines) < 2 or not lines[0].strip().isdigit() or lines[1].split()[:1] != ["image_name"]:
        pr.raise_if_any()  # _read_list has said what is wrong with the file's first lines
    header = lines[1].split()
    cols = header[1:]
    unknown = [c for c in cols if c not in _SYN_GROUPS and c != "evaluation_status"]
    missing = [c for c in ("color", "sleeve", "evaluation_status") if c not in cols]
    if unknown or missing:
        pr.add(f_attr, 2, "header must be 'image_name color sleeve [gender] [category] evaluation_status'"
               + (f"; unknown column(s) {unknown}" if unknown else "") + (f"; missing {missing}" if missing else ""))
    pr.raise_if_any()
    used = [c for c in cols if c in _SYN_GROUPS]
    if value_names is None and (root / "value_names.json").is_file():
        value_names = root / "value_names.json"
    sizes = {c: _SYN_GROUPS[c][0] for c in used}
    names = _value_names(value_names, pr, sizes, lambda g, k: f"v{k + _SYN_GROUPS[g][1]:02d}")
    pr.raise_if_any()
    schema = Schema([Group(c, tuple(names[c]), manipulable=_SYN_GROUPS[c][2]) for c in used])

    rows, jobs, seen = [], [], {}
    for line, toks in entries:
        if len(toks) != len(header):
            pr.add(f_attr, line, f"expected {len(header)} columns ({' '.join(header)}), got {len(toks)}")
            continue
        cells = dict(zip(header, toks))
        name = cells["image_name"]
        if name in seen:
            pr.add(f_attr, line, f"duplicate image {name!r} (first at line {seen[name]})")
            continue
        seen[name] = line
        row = {"path": (Path("images") / name).as_posix() if not name.startswith("images/") else name,
               "product_id": str(Path(name).with_suffix("")), "view": "shop", "split": cells["evaluation_status"]}
        if row["split"] not in SPLITS:
            pr.add(f_attr, line, f"evaluation_status must be train, val or test, got {row['split']!r}")
        ok = row["split"] in SPLITS
        for c in used:
            n, first, _ = _SYN_GROUPS[c]
            v = _int(cells[c], f_attr, line, c, pr, first, first + n - 1)
            if v is None:
                ok = False
            else:
                row[c] = names[c][v - first]
        if ok and (limit is None or len(rows) < limit):
            rows.append(row)
            jobs.append((root / name, out / row["path"], None, f_attr, line))
    pr.raise_if_any()
    _export_all(jobs, pr, fmt, progress)
    pr.raise_if_any()
    return _finish(fmt, root, out, schema, rows, {"value_names": value_names, "limit": limit})


# ---------------------------------------------------------------------------
# any folder + CSV
# ---------------------------------------------------------------------------
_FIXED = ("path", "product_id", "view", "split", "mask")


def convert_folder_csv(
    root, out, *, csv_path=None, schema=None, view: str = "shop", progress: bool = True, overwrite: bool = False,
    **opts,
) -> Path:
    fmt = "folder_csv"
    root, out = Path(root), Path(out)
    if "csv" in opts:
        csv_path = opts.pop("csv")
    if opts:
        raise TypeError(f"folder_csv: unknown option(s) {sorted(opts)}")
    _prepare_out(fmt, root, out, overwrite)
    pr = _Problems(fmt, root)
    f_csv = Path(csv_path) if csv_path is not None else root / "attributes.csv"
    if not f_csv.is_file():
        pr.add(f_csv, None, "CSV file not found (pass csv=... to name it)")
        pr.raise_if_any()
    with open(f_csv, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        table, start = [], reader.line_num
        for cells in reader:
            line, start = start + 1, reader.line_num
            if cells and any(c.strip() for c in cells):
                table.append((line, [c.strip() for c in cells]))
    if "path" not in header:
        pr.add(f_csv, 1, f"needs a 'path' column; got columns {header}")
        pr.raise_if_any()
    attr_cols = [h for h in header if h not in _FIXED]
    group_of = dict(zip(attr_cols, (sanitize(h) for h in attr_cols)))
    if len(set(group_of.values())) != len(group_of):
        pr.add(f_csv, 1, f"attribute columns {attr_cols} clash once sanitised to {list(group_of.values())}")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        pr.add(f_csv, 1, f"repeated column(s) {dup}")
    rows_cells = []
    for line, cells in table:
        if len(cells) != len(header):
            pr.add(f_csv, line, f"expected {len(header)} fields, got {len(cells)}")
        else:
            rows_cells.append((line, dict(zip(header, cells))))
    pr.raise_if_any()

    if schema is not None:
        try:
            sch = Schema.load(schema)
        except SchemaError as e:
            pr.add(schema, None, str(e))
            pr.raise_if_any()
        cols = set(group_of.values())
        if cols != set(sch.names):
            pr.add(f_csv, 1, f"attribute columns {sorted(cols)} do not match the schema groups {list(sch.names)}")
            pr.raise_if_any()
    else:
        groups = []
        for h, g in group_of.items():
            vals = sorted({sanitize(c[h]) for _, c in rows_cells if c[h]})
            if len(vals) < 2:
                pr.add(f_csv, 1, f"column {h!r} has {len(vals)} distinct value(s) {vals}; a group needs at least 2"
                       " (drop the column or pass schema=)")
            else:
                groups.append(Group(g, tuple(vals), manipulable=(g != "category")))
        if not attr_cols:
            pr.add(f_csv, 1, "no attribute columns besides path, product_id, view, split, mask")
        elif groups and not any(gr.manipulable for gr in groups):
            pr.add(f_csv, 1, "no manipulable group: every attribute column is 'category'")
        pr.raise_if_any()
        sch = Schema(groups)

    rows, jobs, recs = [], [], []
    for line, c in rows_cells:
        name = c["path"]
        if not name:
            pr.add(f_csv, line, "empty path")
            continue
        pid = c.get("product_id") or str(Path(name).with_suffix(""))
        row = {"path": (Path("images") / name).as_posix(), "product_id": pid,
               "view": c.get("view") or view, "split": c.get("split") or hash_split(pid)}
        if row["split"] not in SPLITS:
            pr.add(f_csv, line, f"bad split {row['split']!r}; must be one of {', '.join(SPLITS)}")
        if not re.match(r"^[a-z][a-z0-9_]*$", row["view"]):
            pr.add(f_csv, line, f"bad view {row['view']!r}; a view is a token like shop or street")
        for h, gname in group_of.items():
            g = sch.group(gname)
            v = c[h]
            if v in g.values or sanitize(v) in g.values:
                row[gname] = v if v in g.values else sanitize(v)
            else:
                pr.add(f_csv, line, f"unknown value {v!r} in column {h!r}; valid values: {', '.join(g.values)}")
        if c.get("mask"):
            row["mask"] = (Path("masks") / c["mask"]).as_posix()
            jobs.append((root / c["mask"], out / row["mask"], None, f_csv, line))
        jobs.append((root / name, out / row["path"], None, f_csv, line))
        recs.append((f_csv, line, pid, row["split"]))
        rows.append(row)
    _check_product_splits(recs, pr)
    pr.raise_if_any()
    _export_all(jobs, pr, fmt, progress)
    pr.raise_if_any()
    return _finish(fmt, root, out, sch, rows, {"csv": f_csv, "schema": schema, "view": view})


# ---------------------------------------------------------------------------
FORMATS: dict[str, Callable[..., Path]] = {
    "deepfashion_category": convert_deepfashion_category,
    "deepfashion_synthesis": convert_deepfashion_synthesis,
    "deepfashion_inshop": convert_deepfashion_inshop,
    "shopping100k": convert_shopping100k,
    "folder_csv": convert_folder_csv,
}


def convert(format: str, root, out, **opts) -> Path:
    """Convert the data set at ``root`` (in ``format``'s layout) to a manifest folder ``out``."""
    try:
        fn = FORMATS[format]
    except KeyError:
        raise ValueError(f"unknown format {format!r}; formats: {', '.join(FORMATS)}") from None
    return fn(root, out, **opts)
