"""Manifests: the one tabular format through which every data set enters.

A data set folder holds ``manifest.csv`` and ``schema.json`` (:meth:`Schema.to_dict`).
``manifest.csv`` has these columns, in this order::

    path, product_id, view, split, [mask], <one column per schema group, schema order>

- ``path`` / ``mask``: relative to the manifest's folder, and inside it: an absolute path,
  a ``..`` component or a symlink that resolves outside the folder is an error.
  ``mask`` is an optional uint8 PNG region label map (:data:`MASK_REGIONS`: 0 background,
  1 torso, 2 sleeves, 3 neckline/collar, 4 skirt); a cell may be empty.
- ``product_id``: non-empty; one product never appears in two splits.
- ``view``: ``shop`` (catalogue / gallery image), ``street`` (consumer photo / query),
  or another token matching ``[a-z][a-z0-9_]*``.
- ``split``: ``train``, ``val`` or ``test``.
- group cells hold value *names* of the schema, or nothing: an empty cell is an unknown
  value (label ``-1`` in :attr:`Manifest.labels` and in every label vector made from it).
  Only an empty cell means unknown; ``unknown`` is an ordinary value name.

:func:`read_manifest` checks every row and reports every problem at once in one
:class:`ManifestError` (``manifest.csv:LINE: what is wrong``); it never drops rows.
:func:`write_manifest` runs the same checks before it writes anything (atomically).

Also importable from here (defined beside it): :class:`ManifestDataset`
(:mod:`amgan.data.dataset`), :func:`pairs_by_product` and :class:`ReferenceIndex`
(:mod:`amgan.data.references`).
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from amgan.attributes import Schema, SchemaError
from amgan.data.csvio import CsvProblem, read_csv
from amgan.data.manifest_rows import (
    BASE_COLUMNS, MANIFEST_NAME, MASK_REGIONS, SCHEMA_NAME, SPLITS, UNKNOWN, RowChecker, check_header,
    check_label_matrix, expected_columns, label_cells,
)
from amgan.errors import UserError
from amgan.io import atomic_write_text

__all__ = [
    "Manifest", "ManifestError", "ManifestDataset", "ReferenceIndex", "LabelCount", "read_manifest",
    "write_manifest", "pairs_by_product", "BASE_COLUMNS", "SPLITS", "MASK_REGIONS", "UNKNOWN",
]

# defined in their own modules, importable from here as before (loaded on first use: the
# Dataset needs torch, reading a manifest does not)
_ELSEWHERE = {"ManifestDataset": "amgan.data.dataset", "ReferenceIndex": "amgan.data.references",
              "pairs_by_product": "amgan.data.references"}


def __getattr__(name: str):
    if name in _ELSEWHERE:
        import importlib

        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ManifestError(UserError):
    """A manifest (or rows about to be written as one) is not valid.

    ``problems`` lists every problem as ``manifest.csv:LINE: what is wrong``. The message is
    one line for one problem (``PROBLEM (in PATH)``), else a count line and one line each.
    """

    def __init__(self, path: str | Path, problems: Sequence[str]):
        self.path = Path(path)
        self.problems = list(problems)
        n = len(self.problems)
        if n == 1:
            super().__init__(f"{self.problems[0]} (in {self.path})")
        else:
            super().__init__("\n".join([f"{n} problems in {self.path}:", *self.problems]))


class LabelCount(NamedTuple):
    known: int
    unknown: int


# ---------------------------------------------------------------------------
# the manifest in memory
# ---------------------------------------------------------------------------
@dataclass(eq=False)
class Manifest:
    """A validated manifest: parallel per-row lists plus an int64 label matrix [N, G]."""

    root: Path
    schema: Schema
    paths: list[str]
    product_ids: list[str]
    views: list[str]
    splits: list[str]
    masks: list[str]  # '' where a row has no mask
    labels: np.ndarray  # int64 [N, n_groups], value indices in schema order; -1 = unknown
    has_mask_column: bool = False

    def __post_init__(self):
        n = len(self.paths)
        for name in ("product_ids", "views", "splits", "masks"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Manifest.{name} has {len(getattr(self, name))} entries, paths has {n}")
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(n, len(self.schema.groups))
        check_label_matrix(self.labels, self.schema)

    def __len__(self) -> int:
        return len(self.paths)

    def __repr__(self) -> str:
        counts = ", ".join(f"{s}={self.splits.count(s)}" for s in SPLITS)
        return f"Manifest({self.root}, {len(self)} rows: {counts}; {self.schema!r})"

    def row(self, i: int) -> dict[str, str]:
        """Row ``i`` as a dict of column -> cell text (group cells are value names, '' if unknown)."""
        d = {
            "path": self.paths[i],
            "product_id": self.product_ids[i],
            "view": self.views[i],
            "split": self.splits[i],
            "mask": self.masks[i],
        }
        d.update(label_cells(self.schema, self.labels[i]))
        return d

    @property
    def rows(self) -> list[dict[str, str]]:
        return [self.row(i) for i in range(len(self))]

    def image_path(self, i: int) -> Path:
        return self.root / self.paths[i]

    def mask_path(self, i: int) -> Path | None:
        return self.root / self.masks[i] if self.masks[i] else None

    def indices(self, split: str | Iterable[str] | None = None, view: str | Iterable[str] | None = None) -> np.ndarray:
        """Row indices (int64, ascending) whose split and view are among those given."""
        keep = np.ones(len(self), dtype=bool)
        if split is not None:
            wanted = {split} if isinstance(split, str) else set(split)
            bad = sorted(wanted - set(SPLITS))
            if bad:
                raise ValueError(f"unknown split(s) {bad}; valid splits: {', '.join(SPLITS)}")
            keep &= np.array([s in wanted for s in self.splits], dtype=bool)
        if view is not None:
            wanted = {view} if isinstance(view, str) else set(view)
            keep &= np.array([v in wanted for v in self.views], dtype=bool)
        return np.flatnonzero(keep).astype(np.int64)

    def select(self, indices: Iterable[int]) -> "Manifest":
        """A new manifest with only the given rows (same root and schema)."""
        idx = [int(i) for i in indices]
        return Manifest(
            root=self.root,
            schema=self.schema,
            paths=[self.paths[i] for i in idx],
            product_ids=[self.product_ids[i] for i in idx],
            views=[self.views[i] for i in idx],
            splits=[self.splits[i] for i in idx],
            masks=[self.masks[i] for i in idx],
            labels=self.labels[idx] if idx else np.zeros((0, len(self.schema.groups)), np.int64),
            has_mask_column=self.has_mask_column,
        )

    def label_counts(self, split=None, view=None) -> dict[str, LabelCount]:
        """Per group (schema order): how many rows (of ``split``/``view``) know its value."""
        lab = self.labels[self.indices(split, view)]
        unknown = (lab == UNKNOWN).sum(0)
        return {g.name: LabelCount(int(len(lab) - u), int(u)) for g, u in zip(self.schema.groups, unknown)}

    def unknown_summary(self) -> str:
        """``'sleeve 3/120 unknown, pattern 1/120 unknown'``; ``''`` when every label is known."""
        return ", ".join(f"{g} {c.unknown}/{c.known + c.unknown} unknown"
                         for g, c in self.label_counts().items() if c.unknown)


# ---------------------------------------------------------------------------
# reading and writing
# ---------------------------------------------------------------------------
def _locate(path: str | Path) -> tuple[Path, Path]:
    p = Path(path)
    if p.is_file() or (not p.is_dir() and p.suffix.lower() == ".csv"):
        return p.parent, p
    return p, p / MANIFEST_NAME


def read_manifest(path: str | Path, *, check_files: bool = True) -> Manifest:
    """Read and validate a manifest (the folder, or its ``manifest.csv``).

    Every problem is collected and reported in one :class:`ManifestError`.
    ``check_files=False`` skips the existence checks of image and mask files (paths are
    still checked to stay inside the folder).
    """
    root, csv_path = _locate(path)
    fname = csv_path.name
    schema_path = root / SCHEMA_NAME
    if not csv_path.is_file():
        raise ManifestError(csv_path, [f"{fname}: file not found: {csv_path}"])
    if not schema_path.is_file():
        raise ManifestError(
            csv_path, [f"{SCHEMA_NAME}: schema file not found: {schema_path} (every manifest needs one beside it)"]
        )
    try:
        schema = Schema.load(schema_path)
    except SchemaError as e:
        raise ManifestError(csv_path, [f"{SCHEMA_NAME}: {e}"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(csv_path, [f"{SCHEMA_NAME}: cannot read {schema_path}: {e}"]) from None
    try:
        header, records = read_csv(csv_path)
    except CsvProblem as e:
        raise ManifestError(csv_path, [f"{fname}:{e.line}: {e.text}"]) from None
    except OSError as e:
        raise ManifestError(csv_path, [f"{fname}: cannot read {csv_path}: {e.strerror or e}"]) from None
    if header is None:
        raise ManifestError(
            csv_path, [f"{fname}:1: empty file; expected the header {','.join(expected_columns(schema, False))}"]
        )
    head_problems = check_header(header, schema)
    if head_problems:
        raise ManifestError(csv_path, [f"{fname}:1: {p}" for p in head_problems])

    checker = RowChecker(root, schema, fname, check_files)
    cols: dict[str, list[str]] = {c: [] for c in (*BASE_COLUMNS, "mask")}
    labels: list[np.ndarray] = []
    for line, cells in records:
        if len(cells) != len(header):
            checker.problem(line, f"expected {len(header)} fields ({','.join(header)}), got {len(cells)}")
            continue
        row = dict(zip(header, cells))
        vec = checker.check(line, row)
        if vec is not None:
            for c in BASE_COLUMNS:
                cols[c].append(row[c])
            cols["mask"].append(row.get("mask", ""))
            labels.append(vec)
    if not checker.problems and not labels:
        checker.problem(2, "no data rows")
    if checker.problems:
        raise ManifestError(csv_path, checker.problems)
    return Manifest(
        root=root, schema=schema, paths=cols["path"], product_ids=cols["product_id"], views=cols["view"],
        splits=cols["split"], masks=cols["mask"], labels=np.stack(labels), has_mask_column="mask" in header,
    )


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, Path):
        return v.as_posix()
    return str(v).strip()


def _relative(cell: str, folder: Path) -> str:
    """An absolute path inside ``folder`` made relative; anything else unchanged (checked later)."""
    p = Path(cell)
    if not cell or not p.is_absolute():
        return cell
    for inner, outer in ((os.path.abspath(p), os.path.abspath(folder)), (p.resolve(), folder.resolve())):
        try:
            return Path(inner).relative_to(outer).as_posix()
        except ValueError:
            pass
    return cell


def write_manifest(
    folder: str | Path,
    schema: Schema,
    rows: Iterable[Mapping],
    *,
    with_mask: bool | None = None,
    check_files: bool = True,
) -> Path:
    """Validate ``rows`` and write ``folder/manifest.csv`` and ``folder/schema.json`` atomically.

    Each row maps ``path``, ``product_id``, ``view``, ``split``, optionally ``mask``, and
    either every schema group to a value name (``None`` or ``''``: unknown) or ``label``
    to a label vector (``-1``: unknown); unknown values are written as empty cells. Paths
    are relative to ``folder`` (``Path`` objects and absolute paths inside ``folder`` are
    accepted). ``with_mask=None`` writes the mask column when any row has a mask.
    Problems are reported together, with the line each row would have in the file.
    Returns the folder.
    """
    folder = Path(folder)
    csv_path = folder / MANIFEST_NAME
    fname = csv_path.name
    checker = RowChecker(folder, schema, fname, check_files)
    known = {*BASE_COLUMNS, "mask", "label", *schema.names}
    table: list[dict[str, str]] = []
    for k, r in enumerate(rows):
        line = k + 2  # line 1 is the header
        if not isinstance(r, Mapping):
            checker.problem(line, f"a row must be a mapping, got {type(r).__name__}")
            continue
        unknown = [key for key in r if key not in known]
        if unknown:
            checker.problem(line, f"unknown key(s) {unknown}; valid keys: {', '.join(sorted(known))}")
            continue
        cells = {c: _cell(r.get(c)) for c in (*BASE_COLUMNS, "mask")}
        for c in ("path", "mask"):
            cells[c] = _relative(cells[c], folder)
        if "label" in r:
            given = [g for g in schema.names if g in r]
            if given:
                checker.problem(line, f"give either 'label' or the group columns, not both (got {given})")
                continue
            try:
                cells.update(label_cells(schema, np.asarray(r["label"])))
            except (SchemaError, ValueError, TypeError) as e:
                checker.problem(line, f"bad label {r['label']!r}: {e}")
                continue
        else:
            missing = [g for g in schema.names if g not in r]
            if missing:
                checker.problem(line, f"no value for group(s) {missing}; give None or '' for an unknown value")
                continue
            for g in schema.names:
                cells[g] = _cell(r.get(g))
        checker.check(line, cells)
        table.append(cells)
    if not checker.problems and not table:
        checker.problem(2, "no data rows")
    if checker.problems:
        raise ManifestError(csv_path, checker.problems)

    if with_mask is None:
        with_mask = any(c["mask"] for c in table)
    elif not with_mask and any(c["mask"] for c in table):
        raise ManifestError(csv_path, [f"{fname}: rows have masks but with_mask=False"])
    columns = expected_columns(schema, with_mask)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for c in table:
        w.writerow([c[k] for k in columns])
    folder.mkdir(parents=True, exist_ok=True)
    schema.save(folder / SCHEMA_NAME)
    atomic_write_text(csv_path, buf.getvalue())
    return folder
