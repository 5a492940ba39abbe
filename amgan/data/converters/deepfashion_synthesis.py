"""``deepfashion_synthesis`` -- the FashionGAN subset of DeepFashion (Zhu et al. 2017) that
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
"""
from __future__ import annotations

from pathlib import Path

from amgan.attributes import Group, Schema
from amgan.data.converters.common import (
    SPLITS, Problems, finish, load_value_names, parse_int, prepare_out, read_list,
)
from amgan.data.converters.images import ImageJob, export_images, source_folder


_SYN_GROUPS = {  # column -> (number of codes, first code, manipulable)
    "color": (17, 1, True), "sleeve": (4, 1, True), "gender": (2, 0, False), "category": (19, 1, False),
}


def convert_deepfashion_synthesis(
    root, out, *, value_names=None, limit: int | None = None, progress: bool = True, overwrite: bool = False
) -> Path:
    fmt = "deepfashion_synthesis"
    root, out = Path(root), Path(out)
    prepare_out(fmt, root, out, overwrite)
    pr = Problems(fmt, root)
    f_attr = root / "attributes.txt"
    entries = read_list(f_attr, pr, "image_name")
    lines = f_attr.read_bytes().decode("utf-8", "replace").splitlines() if f_attr.is_file() else []  # the header
    if len(lines) < 2 or not lines[0].strip().isdigit() or lines[1].split()[:1] != ["image_name"]:
        pr.raise_if_any()  # read_list has said what is wrong with the file's first lines
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
    names = load_value_names(value_names, pr, sizes, lambda g, k: f"v{k + _SYN_GROUPS[g][1]:02d}")
    pr.raise_if_any()
    schema = Schema([Group(c, tuple(names[c]), manipulable=_SYN_GROUPS[c][2]) for c in used])

    base = source_folder(root, root)
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
            v = parse_int(cells[c], f_attr, line, c, pr, first, first + n - 1)
            if v is None:
                ok = False
            else:
                row[c] = names[c][v - first]
        if ok and (limit is None or len(rows) < limit):
            rows.append(row)
            jobs.append(ImageJob(base, name, row["path"], None, f_attr, line))
    pr.raise_if_any()
    export_images(jobs, out, pr, fmt, progress)
    return finish(fmt, root, out, schema, rows, {"value_names": value_names, "limit": limit})
