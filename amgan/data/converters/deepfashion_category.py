"""``deepfashion_category`` -- DeepFashion Category and Attribute Prediction Benchmark.
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
"""
from __future__ import annotations

from pathlib import Path

from amgan.attributes import Group, Schema, SchemaError
from amgan.data.converters.common import (
    SPLITS, Problems, by_image, find_images_root, finish, out_name, parse_int, prepare_out, read_list, sanitize,
    unique,
)
from amgan.data.converters.images import ImageJob, export_images, source_folder


_DF_TYPES = {1: "texture", 2: "fabric", 3: "shape", 4: "part", 5: "style"}


def _name_and_type(path: Path, line: int, toks: list[str], pr: Problems, hi: int):
    if len(toks) < 2:
        pr.add(path, line, "expected a name and a type")
        return None
    t = parse_int(toks[-1], path, line, "type", pr, 1, hi)
    return None if t is None else (" ".join(toks[:-1]), t)


def convert_deepfashion_category(
    root, out, *, anno_dir: str = "Anno", images_root=None, view: str = "shop",
    limit: int | None = None, progress: bool = True, overwrite: bool = False,
) -> Path:
    fmt = "deepfashion_category"
    root, out = Path(root), Path(out)
    prepare_out(fmt, root, out, overwrite)
    pr = Problems(fmt, root)
    anno, ev = root / anno_dir, root / "Eval"
    f_attr_cloth, f_attr_img = anno / "list_attr_cloth.txt", anno / "list_attr_img.txt"
    f_cat_cloth, f_cat_img = anno / "list_category_cloth.txt", anno / "list_category_img.txt"
    f_bbox, f_part = anno / "list_bbox.txt", ev / "list_eval_partition.txt"

    attrs = [_name_and_type(f_attr_cloth, ln, t, pr, 5) for ln, t in read_list(f_attr_cloth, pr, "attribute_name")]
    cats = [_name_and_type(f_cat_cloth, ln, t, pr, 3) for ln, t in read_list(f_cat_cloth, pr, "category_name")]
    n_attr = len(attrs)
    pr.raise_if_any()  # the per-image files are read against these two

    # groups: category, then one group per attribute type present
    cat_values = unique(sanitize(c[0]) for c in cats)
    type_cols: dict[int, list[int]] = {}
    for j, (_, t) in enumerate(attrs):
        type_cols.setdefault(t, []).append(j)
    groups = [Group("category", tuple(cat_values), manipulable=False)] if len(cat_values) >= 2 else []
    type_value = {}  # attribute column -> value index in its group
    for t in sorted(type_cols):
        names = unique((sanitize(attrs[j][0]) for j in type_cols[t]), taken=["none"])
        groups.append(Group(_DF_TYPES[t], ("none", *names)))
        for k, j in enumerate(type_cols[t]):
            type_value[j] = k + 1
    try:
        schema = Schema(groups)
    except SchemaError as e:
        pr.add(f_attr_cloth, None, f"cannot build a schema: {e}")
        pr.raise_if_any()

    attr_img = by_image(f_attr_img, read_list(f_attr_img, pr, "image_name", 1 + n_attr), pr)
    cat_img = by_image(f_cat_img, read_list(f_cat_img, pr, "image_name", 2), pr)
    bbox = by_image(f_bbox, read_list(f_bbox, pr, "image_name", 5), pr)
    part = by_image(f_part, read_list(f_part, pr, "image_name", 2), pr)
    for f, table in ((f_cat_img, cat_img), (f_bbox, bbox), (f_part, part)):
        for name, (line, _) in table.items():
            if name not in attr_img:
                pr.add(f, line, f"image {name!r} is not in {f_attr_img.relative_to(root).as_posix()}")

    base = source_folder(root, find_images_root(root, images_root))
    rows, jobs = [], []
    for name, (line, toks) in attr_img.items():
        if limit is not None and len(rows) >= limit:
            break
        missing = [f.relative_to(root).as_posix() for f, t in ((f_cat_img, cat_img), (f_bbox, bbox), (f_part, part))
                   if name not in t]
        if missing:
            pr.add(f_attr_img, line, f"image {name!r} has no entry in {', '.join(missing)}")
            continue
        row = {"path": out_name(name, True), "product_id": str(Path(name).with_suffix("")).replace("\\", "/"),
               "view": view}
        cl, ct = cat_img[name]
        c = parse_int(ct[0], f_cat_img, cl, "category_label", pr, 1, len(cats))
        if c is not None and "category" in schema.names:
            row["category"] = cat_values[c - 1]
        pl, pt = part[name]
        if pt[0] not in SPLITS:
            pr.add(f_part, pl, f"evaluation_status must be train, val or test, got {pt[0]!r}")
        row["split"] = pt[0]
        bl, bt = bbox[name]
        box = [parse_int(v, f_bbox, bl, "box coordinate", pr) for v in bt]
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
        jobs.append(ImageJob(base, name, row["path"], tuple(box), f_bbox, bl))
    pr.raise_if_any()
    export_images(jobs, out, pr, fmt, progress)
    return finish(fmt, root, out, schema, rows, {"anno_dir": anno_dir, "view": view, "limit": limit})
