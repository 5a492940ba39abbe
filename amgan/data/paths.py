"""Paths read from data files stay inside their folder.

A manifest's ``path``/``mask`` cells and a converter's image names come from files a user
(or a download) supplies. :class:`SafeFolder` accepts a name only when it is relative,
has no ``..`` component, and -- symlinks resolved -- still names something inside the
folder. So a row cannot read ``/etc/passwd``, ``../../secret.png`` or a symlink planted
to point outside, and an output name built from it cannot land outside the output folder.
"""
from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

__all__ = ["SafeFolder", "inside"]


def inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether ``path`` is ``folder`` or below it, both with symlinks resolved."""
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


class SafeFolder:
    """A folder that relative names from a data file are checked against.

    ``label`` names the folder in messages (``'the manifest folder'``, ``'--root'``).
    """

    def __init__(self, root: str | os.PathLike, label: str):
        self.root = Path(root)
        self.label = label
        self._real = os.path.realpath(self.root)

    def problem(self, name: str, what: str = "path") -> str | None:
        """``None`` when ``name`` is safe; otherwise what is wrong, as one line."""
        if not name:
            return f"empty {what}"
        if "\x00" in name:
            return f"{what} {name!r} contains a NUL character"
        if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or PureWindowsPath(name).drive:
            return f"{what} {name!r} is absolute; it must be relative to {self.label}"
        if ".." in PurePosixPath(name).parts or ".." in PureWindowsPath(name).parts:
            return f"{what} {name!r} contains '..'; it must stay inside {self.label}"
        real = os.path.realpath(os.path.join(self._real, name))
        if not (real == self._real or real.startswith(self._real.rstrip(os.sep) + os.sep)):
            return f"{what} {name!r} is a symlink that resolves outside {self.label} (to {real})"
        return None

    def path(self, name: str) -> Path:
        """``root / name`` (call :meth:`problem` first)."""
        return self.root / name
