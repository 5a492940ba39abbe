"""``shopping100k`` -- Shopping100k in the split-file layout published with ADDE
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
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from amgan.attributes import Group, Schema
from amgan.data.converters.common import (
    Problems, check_product_splits, finish, load_value_names, parse_int, prepare_out, read_text, unique,
)
from amgan.data.converters.images import ImageJob, export_images, source_folder


SHOPPING100K_GROUPS = ("category", "collar", "color", "fabric", "fastening", "fit",
                       "gender", "length", "neckline", "pattern", "pocket", "sleeve")
SHOPPING100K_ATTR_NUM = (16, 17, 19, 14, 10, 15, 2, 11, 16, 7, 9, 15)


def convert_shopping100k(
    root, out, *, images_root=None, value_names=None, limit: int | None = None,
    progress: bool = True, overwrite: bool = False,
) -> Path:
    fmt = "shopping100k"
    root, out = Path(root), Path(out)
    prepare_out(fmt, root, out, overwrite)
    pr = Problems(fmt, root)
    f_num = root / "attr_num.txt"
    attr_num: list[int] = []
    num_text = read_text(f_num, pr)
    if num_text is not None:
        for k, tok in enumerate(num_text.split(), start=1):
            v = parse_int(tok, f_num, None, f"entry #{k}", pr, 2)
            attr_num.append(v or 0)
        if len(attr_num) != len(SHOPPING100K_GROUPS):
            pr.add(f_num, None, f"expected {len(SHOPPING100K_GROUPS)} attribute types "
                   f"({', '.join(SHOPPING100K_GROUPS)}), got {len(attr_num)}")
    pr.raise_if_any()
    sizes = dict(zip(SHOPPING100K_GROUPS, attr_num))
    names = load_value_names(value_names, pr, sizes, lambda g, k: f"v{k:02d}")
    pr.raise_if_any()
    schema = Schema([Group(g, ("none", *unique(names[g], taken=["none"])), manipulable=(g != "category"))
                     for g in SHOPPING100K_GROUPS])
    starts = np.cumsum([0, *attr_num])
    width = int(starts[-1])

    recs = []
    for split in ("train", "test"):
        f_img, f_lab = root / f"imgs_{split}.txt", root / f"labels_{split}.txt"
        if not f_img.exists() and not f_lab.exists() and split == "test":
            continue
        img_text, lab_text = read_text(f_img, pr), read_text(f_lab, pr)
        if img_text is None or lab_text is None:
            continue
        imgs, labs = img_text.splitlines(), lab_text.splitlines()
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
    check_product_splits(((f, k, r["product_id"], r["split"]) for f, k, _, r in recs), pr)
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
    base = source_folder(root, img_root)
    jobs = [ImageJob(base, name, r["path"], None, f, k) for f, k, name, r in recs]
    export_images(jobs, out, pr, fmt, progress)
    return finish(fmt, root, out, schema, [r for *_, r in recs], {"images_root": img_root, "limit": limit})
