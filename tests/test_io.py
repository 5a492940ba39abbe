"""amgan.io: atomic writes get the umask's mode; orphaned temp files of killed saves are removed."""
import os
import stat
import time

import pytest

from amgan.io import atomic_write_bytes, atomic_write_text, current_umask, file_mode, remove_orphans


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_get_the_umask_mode(tmp_path, umask, mode):
    prev = os.umask(umask)
    try:
        assert current_umask() == umask and file_mode() == mode
        atomic_write_text(tmp_path / "a.txt", "x")
        atomic_write_bytes(tmp_path / "a.txt", b"y")  # replacing keeps the mode too
        plain = tmp_path / "plain.txt"
        plain.write_text("z")  # what an ordinary open() gives
    finally:
        os.umask(prev)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == mode == stat.S_IMODE(plain.stat().st_mode)
    assert (tmp_path / "a.txt").read_bytes() == b"y"


def _age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_remove_orphans_takes_only_old_temp_files(tmp_path):
    (tmp_path / "sub").mkdir()
    old = [tmp_path / ".model.pt.a1b2.tmp", tmp_path / "sub" / ".x.png.zz.tmp"]
    young = tmp_path / ".stats.jsonl.q9.tmp"  # a save that may still be running
    keep = [tmp_path / "model.pt", tmp_path / "notes.tmp", tmp_path / ".hidden", tmp_path / "sub" / "x.png"]
    for p in old + keep + [young]:
        p.write_bytes(b"x")
    for p in old + keep:
        _age(p, 120)
    tmp_dir = tmp_path / ".gallery.k1.tmp"  # a killed folder save (fir.index, save_pretrained)
    tmp_dir.mkdir()
    (tmp_dir / "index.faiss").write_bytes(b"partial")
    _age(tmp_dir, 120)
    assert sorted(remove_orphans(tmp_path)) == sorted(old + [tmp_dir])
    assert young.exists() and all(p.exists() for p in keep) and not tmp_dir.exists()
    assert remove_orphans(tmp_path, min_age=0) == [young]


def test_remove_orphans_by_name_and_missing_folder(tmp_path):
    mine, other = tmp_path / ".a.png.1.tmp", tmp_path / ".b.png.1.tmp"
    for p in (mine, other):
        p.write_bytes(b"x")
        _age(p, 120)
    assert remove_orphans(tmp_path, names=["a.png"]) == [mine] and other.exists()
    assert remove_orphans(tmp_path / "nope") == []


def test_training_reexports_the_one_helper():
    from amgan.training import run

    assert run.remove_orphans is remove_orphans
