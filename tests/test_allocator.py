"""amgan.allocator: glibc's malloc keeps large freed blocks for reuse (the edit latency depends on it)."""
import ctypes
import sys

import pytest

from amgan.allocator import keep_freed_memory


def test_bad_thresholds_are_refused():
    for bad in (0, -1, (32 << 20) + 1, 1.5, "32M"):
        with pytest.raises(ValueError, match="mmap_threshold must be"):
            keep_freed_memory(mmap_threshold=bad)
    with pytest.raises(ValueError, match="trim_threshold must be"):
        keep_freed_memory(trim_threshold=0)


_PROBE = r"""
import ctypes, json, sys
from amgan.allocator import keep_freed_memory
libc = ctypes.CDLL("libc.so.6")
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def mmapped(n):  # does a fresh block of n bytes come from mmap?
    before = libc.mallinfo2().hblkhd
    p = libc.malloc(n)
    grew = libc.mallinfo2().hblkhd > before
    libc.free(p)
    return grew
first = mmapped(24 << 20)
ok = keep_freed_memory() and keep_freed_memory()
print(json.dumps({"before": first, "applied": ok, "after": mmapped(24 << 20)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_applies_on_glibc_and_large_blocks_then_come_from_the_heap():
    """In a fresh process a 24 MiB block comes from mmap (glibc's default); after keep_freed_memory() (applied,
    idempotent) the same block comes from the heap, where a freed one is reused without page faults."""
    import json
    import subprocess

    libc = ctypes.CDLL("libc.so.6")
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("glibc without mallinfo2")
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == {"before": True, "applied": True, "after": False}
