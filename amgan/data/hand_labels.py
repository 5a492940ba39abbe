"""Labels a person wrote down, put into a photo data set: ``amgan data hand-labels DIR --labels FILE...``.

The colour annotator (:mod:`amgan.data.annotate`) names a photo's colour from its pixels and
is right on about two thirds of the photos a person checked; a person who looks at the photo
agrees with another person on about nine in ten. So the photos someone has looked at take
that person's labels (``amgan/data/labels/clothing_dev.csv`` and ``clothing_hand.csv``: 1,352
photos of the train and val splits; how they were made in that folder's README).

A label file is a CSV with the column ``image`` (the photo's name in the source, the data set's
``product_id``) and at least one of ``color`` (with an optional ``color_alt``), ``sleeve``, ``pattern``,
``neckline`` (more columns are ignored; a group a file has no column for is left as it is):

- ``color``: one of the schema's colour names, or ``unknown`` (no single main colour:
  stripes in equal shares, a print over most of the garment, two colours). A known colour
  replaces the annotator's; ``unknown`` empties the cell (the annotator's majority name on
  such a photo is a guess), so the photo trains no colour.
- ``sleeve``: ``sleeveless``, ``short``, ``long`` replace the class's value (a "T-Shirt" that
  is a tank top is sleeveless); ``unknown`` keeps what the class says.
- ``pattern``: the schema's pattern names set the cell; ``print`` (a graphic or a logo over
  much of the garment, not one of the schema's patterns) and ``unknown`` leave it unknown.
- ``neckline``: ``round``, ``v_neck``, ``collar`` replace the class's value (only Polo and Shirt
  say one: collar); ``unknown`` keeps what the class says. Without these every known photo
  neckline is "collar" (``amgan/data/labels/clothing_neckline.csv``, README there).

Refused, every problem at once with its ``FILE:LINE``: a missing column, a value outside
these sets, a photo whose group is labelled twice with different values, a photo the data set does not hold,
and (``exclude``) a photo of the blind test set, which must never be trained on.

Run it after ``amgan data annotate``: annotating again only fills unknown cells, so it would
put the annotator's colour back on the photos a person called ``unknown``. Writes the
manifest atomically and ``hand_labels.json`` (the files used, counts per group).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from amgan.errors import UserError
from amgan.io import atomic_write_text

__all__ = ["HandLabelError", "read_hand_labels", "apply_hand_labels", "labelled_photos", "SLEEVES",
           "PATTERN_NOT_IN_SCHEMA"]

SLEEVES = ("sleeveless", "short", "long")
PATTERN_NOT_IN_SCHEMA = ("print",)  # a person's pattern word the schema has no value for: left unknown
UNKNOWN = "unknown"
GROUPS = ("color", "sleeve", "pattern", "neckline")  # the groups a label file may set


class HandLabelError(UserError):
    """A hand-label file or its use is wrong; the message lists every problem with FILE:LINE."""


def read_hand_labels(files, *, colors, patterns, necklines=()) -> dict[str, dict]:
    """``{image: {"color", "color_alt", "sleeve", "pattern", "neckline", "where"}}`` from one or more label
    files (``color_alt``: an optional column, a second acceptable colour name or empty).

    A file has the column ``image`` and at least one of ``color``, ``sleeve``, ``pattern``, ``neckline``;
    a group whose column a file lacks is ``None`` in its rows (not labelled there). A photo named in two
    files takes the groups of both; the same group labelled differently is refused.

    ``colors``, ``patterns``, ``necklines``: the schema's value names. Values are lower-cased and stripped.
    """
    allowed = {"color": set(colors) | {UNKNOWN}, "sleeve": set(SLEEVES) | {UNKNOWN},
               "pattern": set(patterns) | set(PATTERN_NOT_IN_SCHEMA) | {UNKNOWN, ""},
               "neckline": set(necklines) | {UNKNOWN}}
    out: dict[str, dict] = {}
    problems: list[str] = []
    for f in files:
        f = Path(f)
        if not f.is_file():
            problems.append(f"{f}: not found")
            continue
        with open(f, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            cols = reader.fieldnames or []
            present = [g for g in GROUPS if g in cols]
            if "image" not in cols or not present:
                problems.append(f"{f}:1: needs the column image and at least one of {', '.join(GROUPS)} "
                                f"(has {', '.join(cols) or 'none'})")
                continue
            if "neckline" in present and not necklines:
                problems.append(f"{f}:1: a neckline column, but the data set's schema has no neckline group")
                continue
            for line, r in enumerate(reader, start=2):
                where = f"{f}:{line}"
                image = (r.get("image") or "").strip()
                label: dict = {g: None for g in GROUPS}
                label["color_alt"] = None
                bad = []
                if not image or "/" in image or "\\" in image or image.startswith("."):
                    bad.append(f"bad image name {image!r}")
                for g in present:
                    v = (r.get(g) or "").strip().lower()
                    if v not in allowed[g]:
                        bad.append(f"{g} {v!r} (allowed: {', '.join(sorted(allowed[g] - {''}))})")
                    label[g] = UNKNOWN if g == "pattern" and not v else v
                if "color" in present:
                    alt = (r.get("color_alt") or "").strip().lower()
                    if alt and alt not in set(colors):
                        bad.append(f"color_alt {alt!r} (allowed: empty, {', '.join(sorted(colors))})")
                    label["color_alt"] = alt
                if bad:
                    problems.append(f"{where}: " + "; ".join(bad))
                    continue
                prev = out.get(image)
                if prev is None:
                    out[image] = {**label, "where": where}
                    continue
                clash = [k for k in (*GROUPS, "color_alt") if label[k] is not None and prev[k] is not None
                         and label[k] != prev[k]]
                if clash:
                    problems.append(f"{where}: {image} is labelled differently ({', '.join(clash)}) at {prev['where']}")
                    continue
                for k in (*GROUPS, "color_alt"):
                    if prev[k] is None:
                        prev[k] = label[k]
    if problems:
        raise HandLabelError("\n".join([f"{len(problems)} problem(s) in the hand-label files:", *problems]))
    return out


def _value_names(schema) -> dict:
    """The schema's colour and pattern names, as :func:`read_hand_labels` takes them."""
    return {"colors": schema.group("color").values if "color" in schema.names else (),
            "patterns": schema.group("pattern").values if "pattern" in schema.names else (),
            "necklines": schema.group("neckline").values if "neckline" in schema.names else ()}


def labelled_photos(folder, schema) -> set[str]:
    """The photos (product ids) a person gave a colour (or ``unknown``) in the data set ``folder``: those of the
    label files its ``hand_labels.json`` names (written by :func:`apply_hand_labels`); empty when it has none."""
    f = Path(folder) / "hand_labels.json"
    if not f.is_file():
        return set()
    labels = read_hand_labels(json.loads(f.read_text())["files"], **_value_names(schema))
    return {image for image, lab in labels.items() if lab["color"] is not None}


def _blind_images(path) -> set[str]:
    path = Path(path)
    if not path.is_file():
        raise HandLabelError(f"--exclude: {path} not found")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if "image" not in (reader.fieldnames or []):
            raise HandLabelError(f"{path}:1: missing column image")
        return {(r.get("image") or "").strip() for r in reader}


def apply_hand_labels(folder, files, *, exclude=None) -> dict:
    """Put the labels of ``files`` into ``folder``'s manifest (see the module docstring).

    ``exclude``: a label file of photos that must not get labels here (the blind test set).
    Returns the summary written to ``folder/hand_labels.json``.
    """
    from amgan.data.manifest import read_manifest, write_manifest

    folder = Path(folder)
    m = read_manifest(folder)
    schema = m.schema
    labels = read_hand_labels(files, **_value_names(schema))
    used = [g for g in GROUPS if any(lab[g] is not None for lab in labels.values())]
    missing = [g for g in used if g not in schema.names and g != "pattern"]
    if missing:
        raise HandLabelError(f"{folder}: the schema has no {' or '.join(map(repr, missing))} group, which the label "
                             f"files set")
    if "sleeve" in used and not set(SLEEVES) <= set(schema.group("sleeve").values):
        raise HandLabelError(f"{folder}: the schema's sleeve values {schema.group('sleeve').values} lack one of {SLEEVES}")
    problems = []
    if exclude is not None:
        blind = _blind_images(exclude)
        for image in sorted(set(labels) & blind):
            problems.append(f"{labels[image]['where']}: {image} is in the blind test set {exclude}")
    row_of = {pid: i for i, pid in enumerate(m.product_ids)}
    for image in sorted(set(labels) - set(row_of)):
        problems.append(f"{labels[image]['where']}: {image} is not in {folder / 'manifest.csv'}")
    if problems:
        raise HandLabelError("\n".join([f"{len(problems)} photo(s) cannot take hand labels:", *problems]))

    rows = m.rows
    counts = {g: {"set": 0, "changed": 0, "emptied": 0, "kept": 0} for g in used if g in schema.names}
    for image, lab in labels.items():
        row = rows[row_of[image]]
        for g in counts:
            if lab[g] is None:  # not labelled in the file that names this photo
                continue
            v = lab[g]
            if g == "color" and v == UNKNOWN:
                new = ""  # a person saw no single main colour: no colour to learn
            elif v == UNKNOWN or v in PATTERN_NOT_IN_SCHEMA:
                counts[g]["kept"] += 1
                continue
            else:
                new = v
            old = row.get(g, "")
            counts[g]["set" if new else "emptied"] += 1
            counts[g]["changed"] += new != old
            row[g] = new
    write_manifest(folder, schema, rows)
    summary = {"files": [str(f) for f in files], "exclude": str(exclude or ""), "photos": len(labels),
               "groups": counts,
               "splits": {s: sum(1 for i in labels if m.splits[row_of[i]] == s) for s in ("train", "val", "test")}}
    atomic_write_text(folder / "hand_labels.json", json.dumps(summary, indent=2) + "\n")
    return summary
