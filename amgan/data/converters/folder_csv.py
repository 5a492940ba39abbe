"""``folder_csv`` -- any folder of images plus a CSV (option ``csv``, default
``root/attributes.csv``) with a ``path`` column (relative to ``root``), optional
``product_id`` (default: path without extension), ``view`` (default ``shop``),
``split`` (default, and for empty cells: by a hash of product_id, 80/10/10 train/val/test,
deterministic), ``mask``, and one column per attribute group. With option ``schema``
(a schema.json) columns and values must match it; otherwise the schema is inferred:
groups in column order, values sorted, every group manipulable except ``category``.
An empty attribute cell is an unknown value (an empty manifest cell, label ``-1``).
``path`` and ``mask`` must name files inside ``root`` (no absolute path, no ``..``, no
symlink leading out) that are images; nothing is written until every row is valid.
"""
from __future__ import annotations

import re
from pathlib import Path

from amgan.attributes import Group, Schema, SchemaError
from amgan.data.converters.common import (
    SPLITS, Problems, check_product_splits, finish, hash_split, prepare_out, sanitize,
)
from amgan.data.converters.images import ImageJob, export_images, source_folder


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
    prepare_out(fmt, root, out, overwrite)
    pr = Problems(fmt, root)
    f_csv = Path(csv_path) if csv_path is not None else root / "attributes.csv"
    header, table = pr.read_table(f_csv, "CSV file not found (pass csv=... to name it)")
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
        except (SchemaError, OSError, UnicodeDecodeError) as e:
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

    base = source_folder(root, root)
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
            if not v:
                row[gname] = None  # unknown
            elif v in g.values or sanitize(v) in g.values:
                row[gname] = v if v in g.values else sanitize(v)
            else:
                pr.add(f_csv, line, f"unknown value {v!r} in column {h!r}; valid values: {', '.join(g.values)}")
        if c.get("mask"):
            row["mask"] = (Path("masks") / c["mask"]).as_posix()
            jobs.append(ImageJob(base, c["mask"], row["mask"], None, f_csv, line))
        jobs.append(ImageJob(base, name, row["path"], None, f_csv, line))
        recs.append((f_csv, line, pid, row["split"]))
        rows.append(row)
    check_product_splits(recs, pr)
    pr.raise_if_any()
    export_images(jobs, out, pr, fmt, progress)
    return finish(fmt, root, out, sch, rows, {"csv": f_csv, "schema": schema, "view": view})
