"""``deepfashion_inshop`` -- DeepFashion In-shop Clothes Retrieval Benchmark.
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
"""
from __future__ import annotations

from pathlib import Path

from amgan.attributes import Group, Schema
from amgan.data.converters.common import (
    Problems, by_image, check_product_splits, find_images_root, finish, out_name, parse_int, prepare_out,
    read_list, sanitize,
)
from amgan.data.converters.images import ImageJob, export_images, source_folder


_INSHOP_SPLIT = {"train": ("train", "shop"), "query": ("test", "street"), "gallery": ("test", "shop")}


def convert_deepfashion_inshop(
    root, out, *, images_root=None, limit: int | None = None, progress: bool = True, overwrite: bool = False
) -> Path:
    fmt = "deepfashion_inshop"
    root, out = Path(root), Path(out)
    prepare_out(fmt, root, out, overwrite)
    pr = Problems(fmt, root)
    f_part, f_bbox = root / "Eval" / "list_eval_partition.txt", root / "Anno" / "list_bbox_inshop.txt"
    part = by_image(f_part, read_list(f_part, pr, "image_name", 3), pr)
    bbox = by_image(f_bbox, read_list(f_bbox, pr, "image_name", 7), pr)
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
        box = [parse_int(v, f_bbox, bl, "box coordinate", pr) for v in bt[2:]]
        if None in box:
            continue
        split, view = _INSHOP_SPLIT[status]
        cat = sanitize(f"{parts[1]}_{parts[2]}")
        cats.add(cat)
        recs.append((line, name, item, split, view, cat, parts[1].lower(), box, bl))
    check_product_splits(((f_part, r[0], r[2], r[3]) for r in recs), pr)
    pr.raise_if_any()
    if len(cats) < 2:
        cats |= {"unknown"}  # a group needs two values; keep the schema valid for one-category subsets
    schema = Schema([
        Group("category", tuple(sorted(cats)), manipulable=False),
        Group("gender", ("men", "women")),
    ])
    base = source_folder(root, find_images_root(root, images_root))
    rows, jobs = [], []
    for line, name, item, split, view, cat, gender, box, bl in recs:
        row = {"path": out_name(name, True), "product_id": item, "view": view, "split": split,
               "category": cat, "gender": gender}
        rows.append(row)
        jobs.append(ImageJob(base, name, row["path"], tuple(box), f_bbox, bl))
    export_images(jobs, out, pr, fmt, progress)
    return finish(fmt, root, out, schema, rows, {"limit": limit})
