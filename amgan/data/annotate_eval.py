"""The colour annotator against hand-checked labels: ``amgan data annotate-eval DIR --checked FILE``.

``DIR`` is an annotated photo set (``annotations.csv`` from :mod:`amgan.data.annotate`,
``source.csv`` from :mod:`amgan.data.clothing`); ``FILE`` a hand-checked label file with
columns ``image, color, color_alt`` (more are ignored), e.g.
``amgan/data/labels/clothing_checked.csv``: ``color`` is one of the 12 colour names or
``unknown`` (no single main colour, or too dark to tell), ``color_alt`` a second acceptable
name or empty.

Counted over the checked photos that the set holds (a photo of a dropped class is counted
as ``not_in_set``):

- ``coverage``: the fraction of photos with a known checked colour that the annotator
  names (its confidence reached the threshold);
- ``strict``: of those it names, the fraction equal to ``color``; ``lenient``: equal to
  ``color`` or ``color_alt``;
- ``*_all``: the same for the annotator's majority name on every photo (no abstention);
- photos checked ``unknown`` are reported apart: how often the annotator abstained too.

Only to measure: choosing thresholds or anchors from these numbers would turn the test
set into a training set.
"""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from amgan.errors import UserError

__all__ = ["evaluate_annotator"]


def _read(path: Path, what: str, need: tuple[str, ...]) -> list[dict]:
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in need if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path}:1: missing column(s) {', '.join(missing)} in the {what}")
        return list(reader)


def evaluate_annotator(folder, checked) -> dict:
    """Accuracy, coverage and confusions of ``folder``'s colour annotations against ``checked``."""
    folder, checked = Path(folder), Path(checked)
    ann = {r["path"]: r for r in _read(folder / "annotations.csv", "annotations file (run amgan data annotate)",
                                        ("path", "color", "best", "confidence"))}
    src = _read(folder / "source.csv", "source list (from the clothing_dataset converter)", ("path", "image"))
    path_of = {r["image"]: r["path"] for r in src}
    rows = _read(checked, "hand-checked label file", ("image", "color", "color_alt"))

    known = dict(n=0, named=0, strict=0, lenient=0, strict_all=0, lenient_all=0)
    unknown = dict(n=0, abstained=0)
    not_in_set, confusions = 0, Counter()
    for r in rows:
        p = path_of.get(r["image"])
        if p is None or p not in ann:
            not_in_set += 1
            continue
        a = ann[p]
        pred, best = a["color"], a["best"]
        truth = r["color"].strip().lower()
        ok = {truth, r["color_alt"].strip().lower()} - {""}
        if truth in ("", "unknown"):
            unknown["n"] += 1
            unknown["abstained"] += not pred
            continue
        known["n"] += 1
        known["strict_all"] += best == truth
        known["lenient_all"] += best in ok
        if pred:
            known["named"] += 1
            known["strict"] += pred == truth
            known["lenient"] += pred in ok
            if pred not in ok:
                confusions[f"{truth}->{pred}"] += 1
    n, named = known["n"], known["named"]
    return {
        "checked_rows": len(rows), "not_in_set": not_in_set,
        "known": n, "named": named, "coverage": round(named / n, 3) if n else None,
        "strict": round(known["strict"] / named, 3) if named else None,
        "lenient": round(known["lenient"] / named, 3) if named else None,
        "strict_all": round(known["strict_all"] / n, 3) if n else None,
        "lenient_all": round(known["lenient_all"] / n, 3) if n else None,
        "checked_unknown": unknown["n"], "checked_unknown_abstained": unknown["abstained"],
        "confusions": dict(confusions.most_common()),
    }
