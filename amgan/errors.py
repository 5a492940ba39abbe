"""The error family.

``UserError`` and its subclasses are mistakes a user can fix (a bad image, request,
manifest, config or checkpoint path). The CLIs print them as one line and exit non-zero;
the demo shows them as a message. Every other exception is a bug and keeps its traceback
(printed by the CLIs, logged by the demo).

``UserError`` subclasses ``ValueError`` so that callers who caught ``ValueError`` keep
working; the doors catch ``UserError`` only, never a bare ``ValueError``.
"""
from __future__ import annotations


class UserError(ValueError):
    """A mistake the user can fix; the message says what was wrong and what is allowed."""


class ImageError(UserError):
    """An input image cannot be read or is out of the accepted range (size, mode, format)."""


class RequestError(UserError):
    """An edit request, attribute name/value, region, k or method is not valid."""


def first_line(e: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message (its type's name when empty), at most ``limit``
    characters: torch and PIL errors run over many lines, and a user message is one line."""
    text = str(e).strip()
    line = text.splitlines()[0] if text else type(e).__name__
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return line + (")" if line.count("(") > line.count(")") else "")


def run_cli(prog: str, args) -> int:
    """Run ``args.fn(args)`` for a command line: a :class:`UserError` becomes one line
    ``PROG: error: ...`` and exit status 2; any other exception keeps its traceback."""
    import sys

    from amgan.allocator import keep_freed_memory

    keep_freed_memory()  # large freed blocks are reused, not faulted in again (amgan.allocator)
    try:
        return int(args.fn(args) or 0)
    except UserError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
