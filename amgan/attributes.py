"""Attribute schema: groups of ordered values, label vectors, and edit requests.

A *schema* is an ordered tuple of :class:`Group` s. Each group has ordered value
names and a ``manipulable`` flag (``category`` is described but never edited).
Label vectors are int64 arrays with one value index per group, in schema order.

Edit requests are dicts ``{group: value}``. They come from ``color=red,sleeve=long``
or from short English ("make it red with long sleeves", "blue, striped");
:meth:`Schema.parse_edit` accepts both. Unknown groups or values raise
:class:`AttributeError_` naming the offender and listing what is valid.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from amgan.errors import RequestError

__all__ = ["Group", "Schema", "SchemaError", "SYNTH_SCHEMA"]


class SchemaError(RequestError):
    """A group, value, request or schema file is not valid for this schema."""


_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

# Common spellings of group names, accepted wherever a user names a group.
GROUP_ALIASES = {
    "colour": "color", "colours": "color", "colors": "color",
    "sleeves": "sleeve", "sleeve_length": "sleeve",
    "neck": "neckline", "neck_line": "neckline",
    "patterns": "pattern", "print": "pattern",
    "categories": "category", "type": "category",
}


_NEGATIONS = {"not", "no", "non", "never", "isn't", "isnt", "nor"}


def _short(text, n: int = 60) -> str:
    """A user's text, cut for an error message (never echo a megabyte back)."""
    text = str(text)
    return text if len(text) <= n else text[:n] + f"... ({len(text)} characters)"


def _pairs(text: str, example: str) -> dict[str, str]:
    """'a=b, c=d; e=f' -> {'a': 'b', 'c': 'd', 'e': 'f'}; a malformed part or a repeated key is an error."""
    out: dict[str, str] = {}
    for part in re.split(r"[,;]", text):
        part = part.strip()
        if not part:
            continue
        if part.count("=") != 1:
            raise SchemaError(f"cannot read {_short(part)!r}: expected group=value, e.g. {example}")
        k, v = (x.strip() for x in part.split("="))
        if k in out:
            raise SchemaError(f"group {_short(k)!r} is given twice")
        out[k] = v
    return out


def _token(text) -> str:
    """'  Short Sleeves ' -> 'short sleeves' (lower case, single spaces)."""
    return " ".join(str(text).strip().lower().split())


@dataclass(frozen=True)
class Group:
    name: str
    values: tuple[str, ...]
    manipulable: bool = True
    # value -> extra English phrases that name it ("long sleeves" -> long)
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self):
        if not _NAME_RE.match(self.name):
            raise SchemaError(f"group name {self.name!r} must match {_NAME_RE.pattern}")
        if len(self.values) < 2:
            raise SchemaError(f"group {self.name!r} needs at least 2 values, got {list(self.values)}")
        if len(set(self.values)) != len(self.values):
            raise SchemaError(f"group {self.name!r} has repeated values: {list(self.values)}")
        for v in self.values:
            if not _NAME_RE.match(v):
                raise SchemaError(f"value {v!r} of group {self.name!r} must match {_NAME_RE.pattern}")
        for v in self.aliases:
            if v not in self.values:
                raise SchemaError(f"alias given for unknown value {v!r} of group {self.name!r}")

    def __len__(self) -> int:
        return len(self.values)

    def index(self, value: str) -> int:
        try:
            return self.values.index(value)
        except ValueError:
            raise SchemaError(
                f"unknown value {_short(value)!r} for group {self.name!r}; valid values: {', '.join(self.values)}"
            ) from None

    def resolve(self, value) -> str:
        """A user's spelling of a value ('Striped', 'v-neck', 'stripes') -> the value name."""
        t = _token(value)
        for cand in (t, t.replace(" ", "_").replace("-", "_")):
            if cand in self.values:
                return cand
        for v, names in self.aliases.items():
            if t in (_token(n) for n in names):
                return v
        return self.values[self.index(t)]  # raises, naming the valid values


class Schema:
    """Ordered attribute groups. Immutable; compare with ``==``."""

    def __init__(self, groups: Iterable[Group]):
        self.groups: tuple[Group, ...] = tuple(groups)
        names = [g.name for g in self.groups]
        if not names:
            raise SchemaError("a schema needs at least one group")
        if len(set(names)) != len(names):
            raise SchemaError(f"repeated group names: {names}")
        self._by_name = {g.name: g for g in self.groups}
        if not self.manipulable:
            raise SchemaError("a schema needs at least one manipulable group")

    # ---- lookup -------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.groups)

    @property
    def manipulable(self) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if g.manipulable)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(len(g) for g in self.groups)

    def group(self, name: str) -> Group:
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemaError(f"unknown attribute group {_short(name)!r}; valid groups: {', '.join(self.names)}") from None

    def resolve_group(self, name) -> str:
        """A user's spelling of a group name ('Colour', 'sleeves') -> the group name."""
        t = _token(name).replace(" ", "_").replace("-", "_")
        t = t if t in self._by_name else GROUP_ALIASES.get(t, t)
        return self.group(t).name  # raises, naming the valid groups

    def validate_values(self, values: Mapping) -> dict[str, str]:
        """``{group: value}`` for any groups (editable or not), user spellings resolved."""
        if not isinstance(values, Mapping):
            raise SchemaError(f"attribute values must be a mapping group -> value, got {type(values).__name__}")
        out: dict[str, str] = {}
        for k, v in values.items():
            g = self.group(self.resolve_group(k))
            if g.name in out:
                raise SchemaError(f"group {g.name!r} is given twice")
            out[g.name] = g.resolve(v)
        return out

    def parse_values(self, text) -> dict[str, str]:
        """``'sleeve=short, colour=Blue'`` -> ``{group: value}`` for any groups (values a person
        knows of a photo, e.g. ``--source``); empty text -> ``{}``."""
        return self.validate_values(_pairs(str(text or ""), "sleeve=short"))

    def group_index(self, name: str) -> int:
        self.group(name)
        return self.names.index(name)

    def manipulable_index(self, name: str) -> int:
        """Index of ``name`` among the manipulable groups (the mask-vector position)."""
        g = self.group(name)
        if not g.manipulable:
            raise SchemaError(
                f"group {name!r} cannot be edited; editable groups: {', '.join(x.name for x in self.manipulable)}"
            )
        return [x.name for x in self.manipulable].index(name)

    def __eq__(self, other) -> bool:
        return isinstance(other, Schema) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __repr__(self) -> str:
        return "Schema(" + ", ".join(f"{g.name}[{len(g)}]" for g in self.groups) + ")"

    # ---- label vectors ------------------------------------------------------
    def encode(self, attrs: Mapping[str, str]) -> np.ndarray:
        """``{group: value}`` with every group -> int64 vector of value indices."""
        missing = [n for n in self.names if n not in attrs]
        if missing:
            raise SchemaError(f"missing attribute groups {missing}; a label needs all of {list(self.names)}")
        extra = [k for k in attrs if k not in self._by_name]
        if extra:
            raise SchemaError(f"unknown attribute groups {extra}; valid groups: {', '.join(self.names)}")
        return np.array([g.index(attrs[g.name]) for g in self.groups], dtype=np.int64)

    def decode(self, vec) -> dict[str, str]:
        vec = np.asarray(vec)
        if vec.shape != (len(self.groups),):
            raise SchemaError(f"label vector must have shape ({len(self.groups)},), got {vec.shape}")
        out = {}
        for g, i in zip(self.groups, vec.tolist()):
            if not 0 <= int(i) < len(g):
                raise SchemaError(f"index {i} out of range for group {g.name!r} ({len(g)} values)")
            out[g.name] = g.values[int(i)]
        return out

    def onehot(self, vec, groups: Iterable[str] | None = None) -> np.ndarray:
        """Concatenated one-hot of the given groups (default: manipulable groups)."""
        vec = np.asarray(vec)
        names = [g.name for g in self.manipulable] if groups is None else list(groups)
        parts = []
        for n in names:
            g = self.group(n)
            oh = np.zeros(vec.shape[:-1] + (len(g),), dtype=np.float32)
            idx = vec[..., self.group_index(n)]
            np.put_along_axis(oh, idx[..., None].astype(np.int64), 1.0, axis=-1)
            parts.append(oh)
        return np.concatenate(parts, axis=-1)

    def apply_edit(self, vec, edit: Mapping[str, str]) -> np.ndarray:
        """Label vector with the edit's values substituted."""
        out = np.array(vec, dtype=np.int64, copy=True)
        for k, v in self.validate_edit(edit).items():
            out[self.group_index(k)] = self.group(k).index(v)
        return out

    # ---- edit requests ------------------------------------------------------
    def validate_edit(self, edit: Mapping[str, str]) -> dict[str, str]:
        if not isinstance(edit, Mapping):
            raise SchemaError(f"an edit request must be a mapping group -> value, got {type(edit).__name__}")
        if not edit:
            raise SchemaError("nothing requested: name at least one attribute, e.g. color=red")
        out = self.validate_values(edit)
        for k in out:
            if not self.group(k).manipulable:
                raise SchemaError(
                    f"group {k!r} cannot be edited; editable groups: {', '.join(x.name for x in self.manipulable)}"
                )
        return out

    def _phrases(self) -> list[tuple[str, str, str]]:
        """(phrase, group, value) for every manipulable value, longest phrase first."""
        table = []
        for g in self.manipulable:
            for v in g.values:
                names = {v, v.replace("_", " "), v.replace("_", "-")}
                names.update(g.aliases.get(v, ()))
                for p in names:
                    table.append((p.lower(), g.name, v))
        table.sort(key=lambda t: -len(t[0]))
        return table

    def parse_edit(self, text: str) -> dict[str, str]:
        """Parse ``color=red,sleeve=long`` or short English into a validated edit dict."""
        if not isinstance(text, str) or not text.strip():
            raise SchemaError("nothing requested: give e.g. 'color=red' or 'make it red with long sleeves'")
        s = text.strip().lower()
        if "=" in s:
            return self.validate_edit(_pairs(s, "color=red"))
        found: dict[str, str] = {}
        rest = " " + re.sub(r"[^a-z0-9_\- ]+", " ", s) + " "
        for phrase, gname, value in self._phrases():
            pat = re.compile(r"(?<![a-z0-9_\-])" + re.escape(phrase) + r"(?![a-z0-9_\-])")
            hit = pat.search(rest)
            if hit:
                before = rest[: hit.start()].split()
                if before and before[-1] in _NEGATIONS:
                    raise SchemaError(f"cannot edit by negation ({before[-1]!r} {phrase!r} in {_short(text)!r}): "
                                      "say what it should be, e.g. 'make it blue'")
                if gname in found and found[gname] != value:
                    raise SchemaError(
                        f"conflicting values for {gname!r} in {_short(text)!r}: {found[gname]!r} and {value!r}"
                    )
                found[gname] = value
                rest = pat.sub(" ", rest)
        if not found:
            vocab = "; ".join(f"{g.name}: {', '.join(g.values)}" for g in self.manipulable)
            raise SchemaError(f"no attribute value found in {_short(text)!r}. Known values — {vocab}")
        return self.validate_edit(found)

    # ---- (de)serialisation --------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "groups": [
                {
                    "name": g.name,
                    "values": list(g.values),
                    "manipulable": g.manipulable,
                    **({"aliases": {k: list(v) for k, v in g.aliases.items()}} if g.aliases else {}),
                }
                for g in self.groups
            ]
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "Schema":
        if not isinstance(d, Mapping) or "groups" not in d or not isinstance(d["groups"], list):
            raise SchemaError("schema must be a JSON object with a 'groups' list")
        groups = []
        for i, g in enumerate(d["groups"]):
            if not isinstance(g, Mapping):
                raise SchemaError(f"schema group #{i} must be an object")
            unknown = set(g) - {"name", "values", "manipulable", "aliases"}
            if unknown:
                raise SchemaError(f"schema group #{i} has unknown keys {sorted(unknown)}")
            for key in ("name", "values"):
                if key not in g:
                    raise SchemaError(f"schema group #{i} is missing {key!r}")
            groups.append(
                Group(
                    name=str(g["name"]),
                    values=tuple(str(v) for v in g["values"]),
                    manipulable=bool(g.get("manipulable", True)),
                    aliases={k: tuple(v) for k, v in (g.get("aliases") or {}).items()},
                )
            )
        return cls(groups)

    def save(self, path: str | Path) -> None:
        from amgan.io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Schema":
        p = Path(path)
        try:
            d = json.loads(p.read_text())
        except FileNotFoundError:
            raise SchemaError(f"schema file not found: {p}") from None
        except json.JSONDecodeError as e:
            raise SchemaError(f"{p}: not valid JSON ({e})") from None
        try:
            return cls.from_dict(d)
        except SchemaError as e:
            raise SchemaError(f"{p}: {e}") from None


# ---- the SynthFashion schema ------------------------------------------------
SYNTH_COLORS = (
    "black", "white", "gray", "red", "orange", "yellow",
    "green", "teal", "blue", "purple", "pink", "brown",
)
SYNTH_SCHEMA = Schema(
    [
        Group("category", ("top", "dress"), manipulable=False),
        Group("color", SYNTH_COLORS, aliases={"gray": ("grey",), "teal": ("turquoise",), "blue": ("navy",)}),
        Group(
            "pattern",
            ("solid", "striped", "checked", "dotted", "floral"),
            aliases={
                "solid": ("plain", "solid colour", "solid color"),
                "striped": ("stripes", "stripy", "stripe"),
                "checked": ("checks", "check", "plaid", "checkered", "chequered", "tartan"),
                "dotted": ("dots", "polka dot", "polka dots", "polka-dot", "spotted"),
                "floral": ("flowers", "flowery", "flower"),
            },
        ),
        Group(
            "sleeve",
            ("sleeveless", "short", "long"),
            aliases={
                "sleeveless": ("no sleeves", "without sleeves", "tank"),
                "short": ("short sleeves", "short sleeve", "short-sleeved", "short sleeved"),
                "long": ("long sleeves", "long sleeve", "long-sleeved", "long sleeved"),
            },
        ),
        Group(
            "neckline",
            ("round", "v_neck", "collar"),
            aliases={
                "round": ("round neck", "crew neck", "crewneck", "round neckline", "crew"),
                "v_neck": ("v neck", "v-neck", "vneck", "v neckline", "v-neckline"),
                "collar": ("collared", "shirt collar", "with a collar"),
            },
        ),
    ]
)
