"""What every converter shares: the problem list, names, list files, the output folder."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Callable, Iterable, Sequence

from amgan.attributes import Schema
from amgan.data.manifest import MANIFEST_NAME, SPLITS, read_manifest, write_manifest
from amgan.errors import UserError
from amgan.io import atomic_write_text


class ConverterError(UserError):
    """The input data set is not in the expected layout; ``problems`` lists ``FILE:LINE: what``.

    The message is one line for one problem (``FORMAT: PROBLEM (data set ROOT)``), else a count
    line and one line per problem.
    """

    def __init__(self, fmt: str, root: str | Path, problems: Sequence[str]):
        self.format, self.root, self.problems = fmt, Path(root), list(problems)
        n = len(self.problems)
        if n == 1:
            super().__init__(f"{fmt}: {self.problems[0]} (data set {self.root})")
        else:
            super().__init__("\n".join([f"{fmt}: {n} problems in {self.root}:", *self.problems]))


class Problems:
    """Collects ``FILE:LINE: what`` texts (FILE relative to the data set root when inside it)."""

    def __init__(self, fmt: str, root: Path):
        self.fmt, self.root, self.items = fmt, root, []

    def add(self, file: Path | str, line: int | None, text: str) -> None:
        p = Path(file)
        if p != self.root:
            try:
                p = p.relative_to(self.root)
            except ValueError:
                pass
        self.items.append(f"{p.as_posix()}:{line}: {text}" if line else f"{p.as_posix()}: {text}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ConverterError(self.fmt, self.root, self.items)

    def read_table(self, path: Path, what: str) -> tuple[list[str], list]:
        """(header, rows) of a CSV, or stop with ``FILE: <what>`` / ``FILE:LINE: ...``."""
        from amgan.data.csvio import CsvProblem, read_csv

        if not path.is_file():
            self.add(path, None, what)
            self.raise_if_any()
        try:
            header, table = read_csv(path)
        except CsvProblem as e:
            self.add(path, e.line, e.text)
            self.raise_if_any()
        return header or [], table


# ---------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------
def sanitize(name: str) -> str:
    """``'Abstract Chevron-Print'`` -> ``'abstract_chevron_print'``; a leading digit gets a ``v``."""
    s = re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")
    if not s:
        return "v"
    return s if s[0].isalpha() else "v" + s


def unique(names: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """The names with ``_2``, ``_3``... appended where one repeats (or is in ``taken``)."""
    used, out = set(taken), []
    for n in names:
        m, k = n, 2
        while m in used:
            m, k = f"{n}_{k}", k + 1
        used.add(m)
        out.append(m)
    return out


def hash_split(product_id: str) -> str:
    """Deterministic 80/10/10 train/val/test split from a hash of the product id."""
    b = int(hashlib.sha1(product_id.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "train" if b < 8 else ("val" if b == 8 else "test")


def load_value_names(path, pr: Problems, sizes: dict[str, int], default: Callable[[str, int], str]) -> dict[str, list[str]]:
    """Value names per group: ``default(group, k)``, or from a JSON file ``{group: [names...]}``."""
    names = {g: [default(g, k) for k in range(n)] for g, n in sizes.items()}
    if path is None:
        return names
    path = Path(path)
    try:
        given = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        pr.add(path, None, f"cannot read value names: {e}")
        return names
    if not isinstance(given, dict):
        pr.add(path, None, "value names must be a JSON object {group: [names...]}")
        return names
    for g, vals in given.items():
        if g not in sizes:
            pr.add(path, None, f"unknown group {g!r}; groups: {', '.join(sizes)}")
        elif not isinstance(vals, list) or len(vals) != sizes[g]:
            pr.add(path, None, f"group {g!r} needs a list of {sizes[g]} names, got {vals!r}")
        else:
            names[g] = unique(sanitize(v) for v in vals)
    return names


# ---------------------------------------------------------------------------
# list files
# ---------------------------------------------------------------------------
def read_text(path: Path, pr: Problems) -> str | None:
    """The file as UTF-8 text, or ``None`` (and a problem) when it is missing or unreadable."""
    if not path.is_file():
        pr.add(path, None, "file not found")
        return None
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        pr.add(path, data[: e.start].count(b"\n") + 1, f"not UTF-8 text (byte 0x{data[e.start]:02x})")
        return None


def read_list(path: Path, pr: Problems, first: str, ncols: int | None = None) -> list[tuple[int, list[str]]]:
    """A DeepFashion list file: count line, header line (starting with ``first``), entries."""
    text = read_text(path, pr)
    if text is None:
        return []
    lines = text.splitlines()
    if not lines or not lines[0].strip().isdigit():
        pr.add(path, 1, f"expected the entry count on line 1, got {lines[0][:60]!r}" if lines else "empty file")
        return []
    if len(lines) < 2 or not lines[1].split() or lines[1].split()[0] != first:
        got = lines[1][:60] if len(lines) > 1 else ""
        pr.add(path, 2, f"expected a header line starting with {first!r} (count line, header line, entries); got {got!r}")
        return []
    entries, n_lines = [], 0
    for k, line in enumerate(lines[2:], start=3):
        toks = line.split()
        if not toks:
            continue
        n_lines += 1
        if ncols is not None and len(toks) != ncols:
            pr.add(path, k, f"expected {ncols} columns, got {len(toks)}")
            continue
        entries.append((k, toks))
    count = int(lines[0].strip())
    if count != n_lines:
        pr.add(path, 1, f"the count line says {count} entries but the file has {n_lines}")
    return entries


def by_image(path: Path, entries, pr: Problems) -> dict[str, tuple[int, list[str]]]:
    """List entries keyed by their first token (the image name); a repeated name is a problem."""
    out: dict[str, tuple[int, list[str]]] = {}
    for line, toks in entries:
        if toks[0] in out:
            pr.add(path, line, f"duplicate image {toks[0]!r} (first at line {out[toks[0]][0]})")
        else:
            out[toks[0]] = (line, toks[1:])
    return out


def parse_int(tok: str, path: Path, line: int | None, what: str, pr: Problems, lo=None, hi=None) -> int | None:
    try:
        v = int(tok)
    except ValueError:
        pr.add(path, line, f"{what} must be an integer, got {tok!r}")
        return None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        pr.add(path, line, f"{what} {v} out of range {lo}..{hi}")
        return None
    return v


def check_product_splits(records, pr: Problems) -> None:
    """records: (file, line, product_id, split); one product must stay in one split."""
    seen: dict[str, tuple[str, Path, int]] = {}
    for file, line, pid, split in records:
        if pid in seen and seen[pid][0] != split:
            s0, f0, l0 = seen[pid]
            where = f"line {l0}" if Path(f0) == Path(file) else f"{Path(f0).name}:{l0}"
            pr.add(file, line, f"product {pid!r} is in split {split!r} here but in {s0!r} at {where}")
        seen.setdefault(pid, (split, Path(file), line))


# ---------------------------------------------------------------------------
# the output folder
# ---------------------------------------------------------------------------
def find_images_root(root: Path, given) -> Path:
    if given is not None:
        return Path(given)
    if not (root / "img").is_dir() and (root / "Img" / "img").is_dir():
        return root / "Img"
    return root


def out_name(name: str, crop: bool) -> str:
    p = Path("images") / name
    return (p.with_suffix(".png") if crop else p).as_posix()


def prepare_out(fmt: str, root: Path, out: Path, overwrite: bool) -> None:
    """Refuse an output folder that is the input, is a file, or already holds a manifest."""
    pr = Problems(fmt, root)
    if not root.is_dir():
        pr.add(root, None, "the data set folder (--root) does not exist or is not a folder")
    elif out.exists() and not out.is_dir():
        pr.add(out, None, "the output (--out) is an existing file; it must be a folder (new or empty)")
    elif out.resolve() == root.resolve():
        pr.add(out, None, "the output folder must differ from the data set folder")
    elif (out / MANIFEST_NAME).exists() and not overwrite:
        pr.add(out / MANIFEST_NAME, None, "already exists; pass overwrite=True to replace it")
    pr.raise_if_any()


def finish(fmt: str, root: Path, out: Path, schema: Schema, rows: list[dict], opts: dict) -> Path:
    """Write the manifest and ``conversion.json`` (format, options, counts, unknown labels)."""
    write_manifest(out, schema, rows)
    m = read_manifest(out, check_files=False)
    counts = {s: sum(r["split"] == s for r in rows) for s in SPLITS}
    meta = {"format": fmt, "root": str(root), "options": {k: str(v) for k, v in opts.items()},
            "rows": len(rows), "splits": counts,
            "unknown_labels": {g: c.unknown for g, c in m.label_counts().items()}}
    atomic_write_text(out / "conversion.json", json.dumps(meta, indent=2) + "\n")
    return out
