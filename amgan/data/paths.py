"""Paths read from data files stay inside their folder.

A manifest's ``path``/``mask`` cells and a converter's image names come from files a user
(or a download) supplies. :class:`SafeFolder` accepts a name only when it is relative,
has no ``..`` component, and -- symlinks resolved -- still names something inside the
folder. So a row cannot read ``/etc/passwd``, ``../../secret.png`` or a symlink planted
to point outside, and an output name built from it cannot land outside the output folder.
"""
from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

__all__ = ["SafeFolder"]

_DRIVE = re.compile(r"^[A-Za-z]:")  # C:\x or C:x (Windows)
_SEPARATORS = re.compile(r"[\\/]")  # a name from a file made on Windows may use backslashes


class SafeFolder:
    """A folder that relative names from a data file are checked against.

    ``label`` names the folder in messages (``'the manifest folder'``, ``'--root'``).
    """

    def __init__(self, root: str | os.PathLike, label: str):
        self.root = Path(root)
        self.label = label
        self._real = os.path.realpath(self.root)
        self._parents: dict[str, str] = {}

    def problem(self, name: str, what: str = "path") -> str | None:
        """``None`` when ``name`` is safe; otherwise what is wrong, as one line."""
        if not name:
            return f"empty {what}"
        if "\x00" in name:
            return f"{what} {name!r} contains a NUL character"
        if name.startswith(("/", "\\")) or _DRIVE.match(name):
            return f"{what} {name!r} is absolute; it must be relative to {self.label}"
        if ".." in _SEPARATORS.split(name):
            return f"{what} {name!r} contains '..'; it must stay inside {self.label}"
        real = self._realpath(name)
        if not (real == self._real or real.startswith(self._real.rstrip(os.sep) + os.sep)):
            return f"{what} {name!r} is a symlink that resolves outside {self.label} (to {real})"
        return None

    def _realpath(self, name: str) -> str:
        """``realpath(root/name)``, resolving each parent folder once (one lstat per name after that)."""
        parent, base = posixpath.split(posixpath.normpath(name))  # no '..' here: only '.' and '//' go
        parent = "" if parent == "." else parent
        if base in ("", ".", ".."):
            return os.path.realpath(os.path.join(self._real, name))
        if parent not in self._parents:
            self._parents[parent] = os.path.realpath(os.path.join(self._real, parent)) if parent else self._real
        full = os.path.join(self._parents[parent], base)
        return os.path.realpath(full) if os.path.islink(full) else full

    def path(self, name: str) -> Path:
        """``root / name`` (call :meth:`problem` first)."""
        return self.root / name
