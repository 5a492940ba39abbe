"""Labels a person wrote down, put into a photo data set: ``amgan data hand-labels DIR --labels FILE...``.

The colour annotator (:mod:`amgan.data.annotate`) names a photo's colour from its pixels and
is right on about two thirds of the photos a person checked; a person who looks at the photo
agrees with another person on about nine in ten. So the photos someone has looked at take
that person's labels (``amgan/data/labels/clothing_dev.csv`` and ``clothing_hand.csv``: 1,352
photos of the train and val splits; how they were made in that folder's README).

A label file is a CSV with columns ``image`` (the photo's name in the source, the data set's
``product_id``), ``color``, ``sleeve`` and optionally ``pattern`` (more columns are ignored):

- ``color``: one of the schema's colour names, or ``unknown`` (no single main colour:
  stripes in equal shares, a print over most of the garment, two colours). A known colour
  replaces the annotator's; ``unknown`` empties the cell (the annotator's majority name on
  such a photo is a guess), so the photo trains no colour.
- ``sleeve``: ``sleeveless``, ``short``, ``long`` replace the class's value (a "T-Shirt" that
  is a tank top is sleeveless); ``unknown`` keeps what the class says.
- ``pattern``: the schema's pattern names set the cell; ``print`` (a graphic or a logo over
  much of the garment, not one of the schema's patterns) and ``unknown`` leave it unknown.

Refused, every problem at once with its ``FILE:LINE``: a missing column, a value outside
these sets, a photo named twice with different labels, a photo the data set does not hold,
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


class HandLabelError(UserError):
    """A hand-label file or its use is wrong; the message lists every problem with FILE:LINE."""


def read_hand_labels(files, *, colors, patterns) -> dict[str, dict]:
    """``{image: {"color", "color_alt", "sleeve", "pattern", "where"}}`` from one or more label files
    (``color_alt``: an optional column, a second acceptable colour name or empty).

    ``colors``, ``patterns``: the schema's value names. Values are lower-cased and stripped.
    """
    allowed_color = set(colors) | {UNKNOWN}
    allowed_pattern = set(patterns) | set(PATTERN_NOT_IN_SCHEMA) | {UNKNOWN, ""}
    allowed_sleeve = set(SLEEVES) | {UNKNOWN}
    out: dict[str, dict] = {}
    problems: list[str] = []
    for f in files:
        f = Path(f)
        if not f.is_file():
            problems.append(f"{f}: not found")
            continue
        with open(f, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in ("image", "color", "sleeve") if c not in (reader.fieldnames or [])]
            if missing:
                problems.append(f"{f}:1: missing column(s) {', '.join(missing)}")
                continue
            for line, r in enumerate(reader, start=2):
                where = f"{f}:{line}"
                image = (r.get("image") or "").strip()
                color = (r.get("color") or "").strip().lower()
                sleeve = (r.get("sleeve") or "").strip().lower()
                pattern = (r.get("pattern") or "").strip().lower()
                alt = (r.get("color_alt") or "").strip().lower()
                bad = []
                if not image or "/" in image or "\\" in image or image.startswith("."):
                    bad.append(f"bad image name {image!r}")
                if color not in allowed_color:
                    bad.append(f"color {color!r} (allowed: {', '.join(sorted(allowed_color))})")
                if alt and alt not in set(colors):
                    bad.append(f"color_alt {alt!r} (allowed: empty, {', '.join(sorted(colors))})")
                if sleeve not in allowed_sleeve:
                    bad.append(f"sleeve {sleeve!r} (allowed: {', '.join(sorted(allowed_sleeve))})")
                if pattern not in allowed_pattern:
                    bad.append(f"pattern {pattern!r} (allowed: {', '.join(sorted(allowed_pattern - {''}))})")
                if bad:
                    problems.append(f"{where}: " + "; ".join(bad))
                    continue
                label = {"color": color, "color_alt": alt, "sleeve": sleeve, "pattern": pattern or UNKNOWN,
                         "where": where}
                if image in out:
                    prev = out[image]
                    if any(prev[k] != label[k] for k in ("color", "color_alt", "sleeve", "pattern")):
                        problems.append(f"{where}: {image} is labelled differently at {prev['where']}")
                    continue
                out[image] = label
    if problems:
        raise HandLabelError("\n".join([f"{len(problems)} problem(s) in the hand-label files:", *problems]))
    return out


def _value_names(schema) -> dict:
    """The schema's colour and pattern names, as :func:`read_hand_labels` takes them."""
    return {"colors": schema.group("color").values,
            "patterns": schema.group("pattern").values if "pattern" in schema.names else ()}


def labelled_photos(folder, schema) -> set[str]:
    """The photos (product ids) a person labelled in the data set ``folder``: those of the label files its
    ``hand_labels.json`` names (written by :func:`apply_hand_labels`); empty when it has none."""
    f = Path(folder) / "hand_labels.json"
    if not f.is_file():
        return set()
    return set(read_hand_labels(json.loads(f.read_text())["files"], **_value_names(schema)))


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
    for g in ("color", "sleeve"):
        if g not in schema.names:
            raise HandLabelError(f"{folder}: the schema has no {g!r} group; hand labels need color and sleeve")
    labels = read_hand_labels(files, **_value_names(schema))
    if not set(SLEEVES) <= set(schema.group("sleeve").values):
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
    counts = {g: {"set": 0, "changed": 0, "emptied": 0, "kept": 0} for g in ("color", "sleeve", "pattern")}
    for image, lab in labels.items():
        row = rows[row_of[image]]
        for g in ("color", "sleeve", "pattern"):
            if g not in schema.names:
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
