"""Keeping freed memory for reuse: glibc's malloc tuned for a process that edits photos one after another.

An edit allocates and frees the same few large float arrays (a 400x533 photo's float copy is 2.5 MB;
a 12-megapixel photo's strips 3 MB each) every time. glibc serves blocks over its mmap threshold with
fresh ``mmap`` pages and returns them on ``free``, so every edit pays the page faults of touching them
again, and the threshold it adapts at run time makes that cost come and go from one process to the next.
Measured with ``bench/bench_photo_edit.py --part latency --reps 9`` (idle 2 cores, int8 editor, three runs
each, in turn): 400x533 109-120 ms and 12 MP 380-390 ms as glibc comes (``--malloc-default``); with
:func:`keep_freed_memory` 94.5-103.4 ms (median 99.5) and 297-306 ms (the composite stage 31-37 ms ->
25-32 ms). Setting only the mmap threshold made it worse (141 ms): freed heap memory is then trimmed back
to the system at once, so the trim threshold is raised with it. A 12-megapixel edit's peak memory: +7 MB.

The price: the process keeps up to ``trim_threshold`` bytes of freed memory for reuse instead of
returning it. :func:`keep_freed_memory` is called by the project's own processes (the ``amgan`` and
``fir`` commands, the demo, the benchmarks); a program that imports :class:`amgan.Editor` may call it
too. On anything but glibc (macOS, Windows, musl) it does nothing and returns False.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

MMAP_THRESHOLD = 32 << 20  # blocks up to 32 MiB (glibc's largest allowed value on 64-bit) come from the heap
TRIM_THRESHOLD = 256 << 20  # freed heap memory kept for reuse, up to 256 MiB
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
_APPLIED: list = [None]  # the (mmap, trim) thresholds last applied


def keep_freed_memory(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Tune glibc's malloc (``mallopt``) so large freed blocks are reused, not unmapped and faulted in
    again (see the module doc). True when applied (now or by an earlier call with the same values)."""
    if not (isinstance(mmap_threshold, int) and 0 < mmap_threshold <= 32 << 20):
        raise ValueError(f"mmap_threshold must be 1 byte .. 32 MiB (glibc's limit), got {mmap_threshold!r}")
    if not (isinstance(trim_threshold, int) and trim_threshold > 0):
        raise ValueError(f"trim_threshold must be a positive number of bytes, got {trim_threshold!r}")
    if _APPLIED[0] == (mmap_threshold, trim_threshold):
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold)) and bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold))
    _APPLIED[0] = (mmap_threshold, trim_threshold) if ok else None
    return ok
