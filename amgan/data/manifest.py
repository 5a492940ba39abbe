"""Manifests: the one tabular format through which every data set enters.

A data set folder holds ``manifest.csv`` and ``schema.json`` (:meth:`Schema.to_dict`).
``manifest.csv`` has these columns, in this order::

    path, product_id, view, split, [mask], <one column per schema group, schema order>

- ``path`` / ``mask``: relative to the manifest's folder. ``mask`` is an optional uint8
  PNG region label map (:data:`MASK_REGIONS`: 0 background, 1 torso, 2 sleeves,
  3 neckline/collar, 4 skirt); a cell may be empty.
- ``product_id``: non-empty; one product never appears in two splits.
- ``view``: ``shop`` (catalogue / gallery image), ``street`` (consumer photo / query),
  or another token matching ``[a-z][a-z0-9_]*``.
- ``split``: ``train``, ``val`` or ``test``.
- group cells hold value *names* of the schema.

:func:`read_manifest` checks every row and reports every problem at once in one
:class:`ManifestError` (``manifest.csv:LINE: what is wrong``); it never drops rows.
:func:`write_manifest` runs the same checks before it writes anything (atomically).

Also here: :class:`ManifestDataset` (images, labels and masks as tensors),
:func:`pairs_by_product` (street/shop pairs for retrieval training) and
:class:`ReferenceIndex` (AMGAN's perceptual-loss reference: a real image whose
attributes equal the target, else the most similar one of the same category).
"""
from __future__ import annotations

from amgan.errors import UserError

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from amgan.attributes import Schema, SchemaError
from amgan.io import atomic_write_text

__all__ = [
    "Manifest",
    "ManifestError",
    "ManifestDataset",
    "ReferenceIndex",
    "read_manifest",
    "write_manifest",
    "pairs_by_product",
    "BASE_COLUMNS",
    "SPLITS",
    "MASK_REGIONS",
]

BASE_COLUMNS = ("path", "product_id", "view", "split")
SPLITS = ("train", "val", "test")
MASK_REGIONS = ("background", "torso", "sleeves", "neckline", "skirt")
MANIFEST_NAME = "manifest.csv"
SCHEMA_NAME = "schema.json"
_TOKEN_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class ManifestError(UserError):
    """A manifest (or rows about to be written as one) is not valid.

    ``problems`` lists every problem as ``manifest.csv:LINE: what is wrong``.
    """

    def __init__(self, path: str | Path, problems: Sequence[str]):
        self.path = Path(path)
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in {self.path}:"
        super().__init__("\n".join([head, *self.problems]))


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
    labels: np.ndarray  # int64 [N, n_groups], value indices in schema order
    has_mask_column: bool = False

    def __post_init__(self):
        n = len(self.paths)
        for name in ("product_ids", "views", "splits", "masks"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Manifest.{name} has {len(getattr(self, name))} entries, paths has {n}")
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(n, len(self.schema.groups))

    def __len__(self) -> int:
        return len(self.paths)

    def __repr__(self) -> str:
        counts = ", ".join(f"{s}={self.splits.count(s)}" for s in SPLITS)
        return f"Manifest({self.root}, {len(self)} rows: {counts}; {self.schema!r})"

    def row(self, i: int) -> dict[str, str]:
        """Row ``i`` as a dict of column -> cell text (group cells are value names)."""
        d = {
            "path": self.paths[i],
            "product_id": self.product_ids[i],
            "view": self.views[i],
            "split": self.splits[i],
            "mask": self.masks[i],
        }
        d.update(self.schema.decode(self.labels[i]))
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


# ---------------------------------------------------------------------------
# validation shared by reader and writer
# ---------------------------------------------------------------------------
class _RowChecker:
    """Checks rows one by one and remembers what cross-row checks need."""

    def __init__(self, root: Path, schema: Schema, fname: str, check_files: bool):
        self.root, self.schema, self.fname, self.check_files = root, schema, fname, check_files
        self.problems: list[str] = []
        self.first_line_of_path: dict[str, int] = {}
        self.split_of_product: dict[str, tuple[str, int]] = {}

    def problem(self, line: int, text: str) -> None:
        self.problems.append(f"{self.fname}:{line}: {text}")

    def check(self, line: int, cells: Mapping[str, str]) -> np.ndarray | None:
        """Validate one row (cells already stripped); return its label vector if the values are valid."""
        n0 = len(self.problems)
        path = cells.get("path", "")
        if not path:
            self.problem(line, "empty path")
        elif Path(path).is_absolute():
            self.problem(line, f"path {path!r} must be relative to the manifest folder")
        else:
            if path in self.first_line_of_path:
                self.problem(line, f"duplicate path {path!r} (first at line {self.first_line_of_path[path]})")
            else:
                self.first_line_of_path[path] = line
            if self.check_files and not (self.root / path).is_file():
                self.problem(line, f"image file not found: {path}")

        pid = cells.get("product_id", "")
        if not pid:
            self.problem(line, "empty product_id")

        view = cells.get("view", "")
        if not _TOKEN_RE.match(view):
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
            if Path(mask).is_absolute():
                self.problem(line, f"mask {mask!r} must be relative to the manifest folder")
            elif self.check_files and not (self.root / mask).is_file():
                self.problem(line, f"mask file not found: {mask}")

        vec = np.zeros(len(self.schema.groups), dtype=np.int64)
        for j, g in enumerate(self.schema.groups):
            v = cells.get(g.name, "")
            if v in g.values:
                vec[j] = g.values.index(v)
            elif not v:
                self.problem(line, f"empty value for group {g.name!r}; valid values: {', '.join(g.values)}")
            else:
                self.problem(line, f"unknown value {v!r} for group {g.name!r}; valid values: {', '.join(g.values)}")
        return vec if len(self.problems) == n0 else None


def _expected_columns(schema: Schema, with_mask: bool) -> list[str]:
    return [*BASE_COLUMNS, *(["mask"] if with_mask else []), *schema.names]


def _check_header(header: list[str], schema: Schema) -> list[str]:
    """Problems with the header row (as 'what is wrong' texts)."""
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
        expected = _expected_columns(schema, "mask" in header)
        if header != expected:
            out.append(f"columns out of order: expected {','.join(expected)}; got {','.join(header)}")
    return out


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
    ``check_files=False`` skips the existence checks of image and mask files.
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

    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise ManifestError(
                csv_path, [f"{fname}:1: empty file; expected the header {','.join(_expected_columns(schema, False))}"]
            ) from None
        header = [h.strip() for h in header]
        head_problems = _check_header(header, schema)
        if head_problems:
            raise ManifestError(csv_path, [f"{fname}:1: {p}" for p in head_problems])

        checker = _RowChecker(root, schema, fname, check_files)
        cols: dict[str, list[str]] = {c: [] for c in (*BASE_COLUMNS, "mask")}
        labels: list[np.ndarray] = []
        start = reader.line_num
        for cells in reader:
            line = start + 1
            start = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue  # blank line
            if len(cells) != len(header):
                checker.problem(line, f"expected {len(header)} fields ({','.join(header)}), got {len(cells)}")
                continue
            row = {h: c.strip() for h, c in zip(header, cells)}
            vec = checker.check(line, row)
            if vec is not None:
                for c in BASE_COLUMNS:
                    cols[c].append(row[c])
                cols["mask"].append(row.get("mask", ""))
                labels.append(vec)
    if not checker.problems and not labels:
        checker.problem(start + 1, "no data rows")
    if checker.problems:
        raise ManifestError(csv_path, checker.problems)
    return Manifest(
        root=root,
        schema=schema,
        paths=cols["path"],
        product_ids=cols["product_id"],
        views=cols["view"],
        splits=cols["split"],
        masks=cols["mask"],
        labels=np.stack(labels),
        has_mask_column="mask" in header,
    )


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, Path):
        return v.as_posix()
    return str(v).strip()


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
    either every schema group to a value name or ``label`` to a label vector. Paths are
    relative to ``folder`` (``Path`` objects and absolute paths inside ``folder`` are
    accepted). ``with_mask=None`` writes the mask column when any row has a mask.
    Problems are reported together, with the line each row would have in the file.
    Returns the folder.
    """
    folder = Path(folder)
    csv_path = folder / MANIFEST_NAME
    fname = csv_path.name
    checker = _RowChecker(folder, schema, fname, check_files)
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
            p = Path(cells[c]) if cells[c] else None
            if p is not None and p.is_absolute():
                try:
                    cells[c] = p.resolve().relative_to(folder.resolve()).as_posix()
                except ValueError:
                    pass  # the checker reports it
        if "label" in r:
            given = [g for g in schema.names if g in r]
            if given:
                checker.problem(line, f"give either 'label' or the group columns, not both (got {given})")
                continue
            try:
                cells.update(schema.decode(np.asarray(r["label"])))
            except SchemaError as e:
                checker.problem(line, str(e))
                continue
        else:
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
    columns = _expected_columns(schema, with_mask)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for c in table:
        w.writerow([c[k] for k in columns])
    folder.mkdir(parents=True, exist_ok=True)
    schema.save(folder / SCHEMA_NAME)
    atomic_write_text(csv_path, buf.getvalue())
    return folder


# ---------------------------------------------------------------------------
# torch dataset
# ---------------------------------------------------------------------------
class ManifestDataset(torch.utils.data.Dataset):
    """Images, labels and region masks of a manifest, optionally filtered by split and view.

    ``size``: resize to ``size x size`` (images bilinear with antialiasing, masks nearest);
    ``None`` keeps the stored size. ``cache=True`` keeps decoded (resized) uint8 arrays in
    memory (per DataLoader worker). ``item['index']`` is the row index in the manifest,
    ``self.indices[k]`` for item ``k``.
    """

    def __init__(
        self,
        manifest: Manifest | str | Path,
        split: str | Iterable[str] | None = None,
        view: str | Iterable[str] | None = None,
        size: int | None = None,
        cache: bool = False,
    ):
        self.manifest = manifest if isinstance(manifest, Manifest) else read_manifest(manifest)
        self.indices = self.manifest.indices(split, view)
        if size is not None and (int(size) != size or size < 1):
            raise ValueError(f"size must be a positive integer or None, got {size!r}")
        self.size = None if size is None else int(size)
        self.cache = cache
        self._cache: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def labels(self) -> np.ndarray:
        """Label vectors of this dataset's items, [len(self), n_groups]."""
        return self.manifest.labels[self.indices]

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        if i in self._cache:
            return self._cache[i]
        m = self.manifest
        ipath = m.image_path(i)
        with Image.open(ipath) as im:
            im = im.convert("RGB")
            wh = im.size
            if self.size is not None and im.size != (self.size, self.size):
                im = im.resize((self.size, self.size), Image.BILINEAR, reducing_gap=None)
            img = np.asarray(im, dtype=np.uint8).copy()
        mask = None
        mpath = m.mask_path(i)
        if mpath is not None:
            with Image.open(mpath) as mm:
                if mm.mode not in ("L", "P", "I", "I;16", "1"):
                    raise ValueError(f"mask {mpath} must be a single-channel label map (mode L or P), got mode {mm.mode}")
                if mm.size != wh:
                    raise ValueError(f"mask {mpath} is {mm.size[0]}x{mm.size[1]} but image {ipath} is {wh[0]}x{wh[1]}")
                arr = np.asarray(mm)
            if arr.max(initial=0) >= len(MASK_REGIONS) or arr.min(initial=0) < 0:
                raise ValueError(
                    f"mask {mpath} has labels {sorted(np.unique(arr).tolist())}; valid labels are "
                    + ", ".join(f"{k} {n}" for k, n in enumerate(MASK_REGIONS))
                )
            arr = arr.astype(np.uint8)
            if self.size is not None and arr.shape != (self.size, self.size):
                arr = np.asarray(Image.fromarray(arr).resize((self.size, self.size), Image.NEAREST))
            mask = arr
        if self.cache:
            self._cache[i] = (img, mask)
        return img, mask

    def __getitem__(self, k: int) -> dict:
        i = int(self.indices[k])
        img, mask = self._load(i)
        h, w = img.shape[:2]
        m = self.manifest
        return {
            "image": torch.from_numpy(img).permute(2, 0, 1).float().div_(255.0).contiguous(),
            "label": torch.from_numpy(m.labels[i].copy()),
            "mask": torch.full((h, w), -1, dtype=torch.int64) if mask is None else torch.from_numpy(mask.astype(np.int64)),
            "product_id": m.product_ids[i],
            "view": m.views[i],
            "index": i,
        }


# ---------------------------------------------------------------------------
# pairs and references
# ---------------------------------------------------------------------------
def pairs_by_product(
    manifest: Manifest, split: str | None = None, *, street_view: str = "street", shop_view: str = "shop"
) -> list[tuple[int, int]]:
    """Every (street_index, shop_index) pair of rows showing the same product.

    Indices are manifest rows; sorted by street index, then shop index. Street images
    whose product has no shop image (in ``split``) form no pair.
    """
    rows = manifest.indices(split)
    shops: dict[str, list[int]] = {}
    for i in rows:
        if manifest.views[i] == shop_view:
            shops.setdefault(manifest.product_ids[i], []).append(int(i))
    pairs = []
    for i in rows:
        if manifest.views[i] == street_view:
            pairs.extend((int(i), j) for j in shops.get(manifest.product_ids[i], ()))
    return pairs


class ReferenceIndex:
    """Find a real image whose attribute vector equals a target (AMGAN's reference for L_p).

    Among candidates (all rows, minus ``exclude``), the score of a row is the number of
    groups equal to the target, plus a bonus larger than any count when its category
    equals the target's. The best score wins; ties are broken uniformly at random. So an
    exact match is returned when one exists, else the most similar row of the same
    category, else (no candidate of that category) the most similar row of any category.

    ``labels``: an int array [N, G] or a :class:`Manifest`. ``categories_group``: the
    category column, by name (needs ``schema`` or a Manifest; the default ``'category'``
    is ignored when the schema has no such group), by column index, or ``None``.
    ``ids``: what :meth:`find` returns for each row (default ``0..N-1``; a Manifest subset
    from :meth:`from_manifest` returns manifest row indices).
    """

    def __init__(
        self,
        labels,
        categories_group: str | int | None = "category",
        *,
        schema: Schema | None = None,
        ids: Sequence[int] | None = None,
        seed: int | None = 0,
    ):
        if isinstance(labels, Manifest):
            schema = schema or labels.schema
            labels = labels.labels
        self.labels = np.ascontiguousarray(np.asarray(labels, dtype=np.int64))
        if self.labels.ndim != 2 or len(self.labels) == 0:
            raise ValueError(f"labels must be a non-empty [N, G] array, got shape {self.labels.shape}")
        n, g = self.labels.shape
        if schema is not None and len(schema.groups) != g:
            raise ValueError(f"labels have {g} groups but the schema has {len(schema.groups)}")
        if isinstance(categories_group, str):
            if schema is None:
                raise ValueError(
                    f"categories_group={categories_group!r} is a name: pass schema= (or a Manifest), or a column index"
                )
            if categories_group in schema.names:
                categories_group = schema.group_index(categories_group)
            elif categories_group == "category":
                categories_group = None
            else:
                schema.group(categories_group)  # raises, naming the valid groups
        if categories_group is not None and not 0 <= int(categories_group) < g:
            raise ValueError(f"category column {categories_group} out of range for {g} groups")
        self.cat_col = None if categories_group is None else int(categories_group)
        self.ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if self.ids.shape != (n,):
            raise ValueError(f"ids must have shape ({n},), got {self.ids.shape}")
        self._pos = {int(v): k for k, v in enumerate(self.ids)}
        self.rng = np.random.default_rng(seed)

    @classmethod
    def from_manifest(
        cls, manifest: Manifest, split: str | Iterable[str] | None = None, view=None, **kw
    ) -> "ReferenceIndex":
        rows = manifest.indices(split, view)
        if len(rows) == 0:
            raise ValueError(f"no rows in split={split!r} view={view!r} to search")
        kw.setdefault("schema", manifest.schema)
        return cls(manifest.labels[rows], ids=rows, **kw)

    def __len__(self) -> int:
        return len(self.labels)

    def _excluded_positions(self, exclude) -> list[int]:
        if exclude is None:
            return []
        items = [exclude] if np.isscalar(exclude) else list(exclude)
        return [self._pos[int(e)] for e in items if int(e) in self._pos]

    def find_batch(
        self,
        targets,
        rng: np.random.Generator | None = None,
        exclude=None,
        *,
        return_equal: bool = False,
    ):
        """Best row for each target vector; returns ids [B] (and equal-group counts [B]).

        ``exclude``: ``None``, or one entry per target: an id or a list of ids that must
        not be returned for that target (e.g. the input image itself).
        """
        t = np.asarray(targets, dtype=np.int64)
        n, g = self.labels.shape
        if t.ndim != 2 or t.shape[1] != g:
            raise ValueError(f"targets must have shape [B, {g}], got {t.shape}")
        b = len(t)
        if exclude is not None and len(exclude) != b:
            raise ValueError(f"exclude needs one entry per target ({b}), got {len(exclude)}")
        rng = self.rng if rng is None else rng
        out = np.empty(b, dtype=np.int64)
        equal = np.empty(b, dtype=np.int64)
        chunk = max(1, (1 << 22) // max(n * g, 1))
        for s in range(0, b, chunk):
            tt = t[s : s + chunk]
            eq = (self.labels[None, :, :] == tt[:, None, :]).sum(-1)  # [b, N]
            score = eq.astype(np.float64)
            if self.cat_col is not None:
                same = self.labels[None, :, self.cat_col] == tt[:, None, self.cat_col]
                score += same * (g + 1)
            if exclude is not None:
                for k in range(len(tt)):
                    score[k, self._excluded_positions(exclude[s + k])] = -np.inf
            score += rng.random(score.shape) * 0.5  # uniform tie-break among equal integer scores
            best = score.argmax(1)
            if not np.isfinite(score[np.arange(len(tt)), best]).all():
                raise ValueError("every candidate is excluded for some target")
            out[s : s + chunk] = self.ids[best]
            equal[s : s + chunk] = eq[np.arange(len(tt)), best]
        return (out, equal) if return_equal else out

    def find(self, target_vec, exclude=None, rng: np.random.Generator | None = None) -> int:
        """Id of the best row for one target vector (see the class docstring)."""
        t = np.asarray(target_vec, dtype=np.int64)
        if t.ndim != 1:
            raise ValueError(f"target_vec must be one label vector, got shape {t.shape}")
        return int(self.find_batch(t[None], rng=rng, exclude=None if exclude is None else [exclude])[0])
