"""The manifest's columns and the row checks shared by :func:`read_manifest` and
:func:`write_manifest` (both in :mod:`amgan.data.manifest`, which re-exports the names here).

Label vectors hold one value index per schema group; ``-1`` (:data:`UNKNOWN`) is an unknown
value, written as an empty cell. Only an empty cell means unknown: the word ``unknown`` is an
ordinary value name (a schema may define it), so it is not special here.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np

from amgan.attributes import Schema, SchemaError
from amgan.data.paths import SafeFolder

BASE_COLUMNS = ("path", "product_id", "view", "split")
SPLITS = ("train", "val", "test")
MASK_REGIONS = ("background", "torso", "sleeves", "neckline", "skirt")
MANIFEST_NAME = "manifest.csv"
SCHEMA_NAME = "schema.json"
UNKNOWN = -1
TOKEN_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def label_cells(schema: Schema, vec) -> dict[str, str]:
    """Group name -> value name for a label vector; ``-1`` gives ``''`` (unknown)."""
    v = np.asarray(vec)
    if v.shape != (len(schema.groups),):
        raise SchemaError(f"label vector must have shape ({len(schema.groups)},), got {v.shape}")
    out = {}
    for g, i in zip(schema.groups, v.tolist()):
        if int(i) == UNKNOWN:
            out[g.name] = ""
        elif 0 <= int(i) < len(g):
            out[g.name] = g.values[int(i)]
        else:
            raise SchemaError(f"index {i} out of range for group {g.name!r} ({len(g)} values, or -1 for unknown)")
    return out


def check_label_matrix(labels: np.ndarray, schema: Schema) -> None:
    """Raise ``ValueError`` unless every entry is ``-1`` or a value index of its group."""
    sizes = np.asarray(schema.sizes, dtype=np.int64)
    bad = (labels < UNKNOWN) | (labels >= sizes[None, :])
    if bad.any():
        r, c = map(int, np.argwhere(bad)[0])
        g = schema.groups[c]
        raise ValueError(f"label {labels[r, c]} at row {r} is out of range for group {g.name!r} "
                         f"(0..{len(g) - 1}, or -1 for unknown)")


def expected_columns(schema: Schema, with_mask: bool) -> list[str]:
    return [*BASE_COLUMNS, *(["mask"] if with_mask else []), *schema.names]


def check_header(header: Sequence[str], schema: Schema) -> list[str]:
    """Problems with the header row (as 'what is wrong' texts)."""
    header = list(header)
    out = []
    allowed = set(BASE_COLUMNS) | {"mask"} | set(schema.names)
    required = [*BASE_COLUMNS, *schema.names]
    missing = [c for c in required if c not in header]
    if missing:
        out.append(f"missing column(s): {', '.join(missing)}")
    extra = [c for c in header if c not in allowed]
    if extra:
        out.append(
            f"unknown column(s): {', '.join(repr(c) for c in extra)}; the columns are "
            f"{', '.join(BASE_COLUMNS)}, optional mask, then the schema groups {', '.join(schema.names)}"
        )
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        out.append(f"repeated column(s): {', '.join(repeated)}")
    if not out:
        expected = expected_columns(schema, "mask" in header)
        if header != expected:
            out.append(f"columns out of order: expected {','.join(expected)}; got {','.join(header)}")
    return out


class RowChecker:
    """Checks rows one by one and remembers what cross-row checks need.

    ``path`` and ``mask`` must be relative names inside ``root`` (no ``..``, no symlink
    leading out: :class:`~amgan.data.paths.SafeFolder`); with ``check_files`` they must
    also be files. A group cell is a value name of the schema or empty (unknown, ``-1``).
    """

    def __init__(self, root, schema: Schema, fname: str, check_files: bool):
        self.folder = SafeFolder(root, "the manifest folder")
        self.schema, self.fname, self.check_files = schema, fname, check_files
        self.problems: list[str] = []
        self.first_line_of_path: dict[str, int] = {}
        self.split_of_product: dict[str, tuple[str, int]] = {}

    def problem(self, line: int, text: str) -> None:
        self.problems.append(f"{self.fname}:{line}: {text}")

    def _file(self, line: int, name: str, what: str) -> bool:
        bad = self.folder.problem(name, what)
        if bad:
            self.problem(line, bad)
            return False
        if self.check_files and not self.folder.path(name).is_file():
            self.problem(line, f"{'image' if what == 'path' else what} file not found: {name}")
        return True

    def check(self, line: int, cells: Mapping[str, str]) -> np.ndarray | None:
        """Validate one row (cells already stripped); return its label vector if the row is valid."""
        n0 = len(self.problems)
        path = cells.get("path", "")
        if self._file(line, path, "path"):
            if path in self.first_line_of_path:
                self.problem(line, f"duplicate path {path!r} (first at line {self.first_line_of_path[path]})")
            else:
                self.first_line_of_path[path] = line

        pid = cells.get("product_id", "")
        if not pid:
            self.problem(line, "empty product_id")

        view = cells.get("view", "")
        if not TOKEN_RE.match(view):
            self.problem(line, f"bad view {view!r}; a view is a token matching [a-z][a-z0-9_]* such as shop or street")

        split = cells.get("split", "")
        if split not in SPLITS:
            self.problem(line, f"bad split {split!r}; must be one of {', '.join(SPLITS)}")
        elif pid:
            if pid in self.split_of_product:
                other, other_line = self.split_of_product[pid]
                if other != split:
                    self.problem(
                        line,
                        f"product {pid!r} is in split {split!r} here but in split {other!r} at line {other_line}"
                        " (splits must be disjoint by product)",
                    )
            else:
                self.split_of_product[pid] = (split, line)

        mask = cells.get("mask", "")
        if mask:
            self._file(line, mask, "mask")

        vec = np.full(len(self.schema.groups), UNKNOWN, dtype=np.int64)
        for j, g in enumerate(self.schema.groups):
            v = cells.get(g.name, "")
            if v in g.values:
                vec[j] = g.values.index(v)
            elif v:
                self.problem(line, f"unknown value {v!r} for group {g.name!r}; valid values: {', '.join(g.values)}"
                             " (or an empty cell when the value is not known)")
        return vec if len(self.problems) == n0 else None
