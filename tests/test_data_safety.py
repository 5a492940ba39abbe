"""Bad input at the data doors (`amgan data convert`, `amgan data synth`, a manifest read by
`amgan train-classifier`): every case exits 2 with one line naming what is wrong, and
nothing in the test's folder changes outside the output folder -- no file outside it is
read into it, overwritten or created. Convert and synth write nothing at all; only
train-classifier's output folder (``run``) is left out of the comparison."""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from amgan.attributes import Group, Schema
from amgan.cli import main

REPO = Path(__file__).resolve().parents[1]
SCHEMA = Schema([Group("category", ("top", "dress"), manipulable=False), Group("color", ("red", "blue"))])
GOOD_ROWS = ["pics/a.png,red", "pics/b.png,blue"]
RUN = "run"  # train-classifier's output folder (it may write its resolved config there first)


def _png(path: Path, color, size=(8, 8)) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.zeros((size[1], size[0], 3), np.uint8)
    a[...] = color
    a[0, 0] = (1, 2, 3)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


@pytest.fixture()
def tree(tmp_path, monkeypatch):
    """tmp/root (a folder_csv data set), tmp/outside (files no data file may reach),
    tmp/dataset (a manifest folder), tmp/work (the working directory)."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    _png(outside / "secret.png", (9, 9, 9))
    (outside / "notes.txt").write_text("private\n")
    for name, color in (("a", (200, 0, 0)), ("b", (0, 0, 200)), ("c", (0, 200, 0))):
        _png(root / "pics" / f"{name}.png", color)
    (root / "pics" / "fake.png").write_text("this is text, not a picture\n")
    data = _png(root / "pics" / "broken.png", (50, 60, 70), size=(32, 32))
    (root / "pics" / "broken.png").write_bytes(data[: len(data) // 2])
    (root / "pics" / "link.png").symlink_to(outside / "secret.png")
    (root / "attributes.csv").write_text("path,color\n" + "\n".join(GOOD_ROWS) + "\n")
    ds = tmp_path / "dataset"
    for name in ("a", "b", "c"):
        _png(ds / "images" / f"{name}.png", (100, 100, 100))
    (ds / "images" / "link.png").symlink_to(outside / "secret.png")
    SCHEMA.save(ds / "schema.json")
    _manifest(ds, [])
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path


def _manifest(ds: Path, extra: list[str]) -> None:
    rows = ["path,product_id,view,split,category,color", "images/a.png,p1,shop,train,top,red",
            "images/b.png,p2,shop,train,dress,blue", *extra]
    (ds / "manifest.csv").write_text("\n".join(rows) + "\n")


def _csv(t: Path, rows: list[str], header: str = "path,color") -> None:
    (t / "root" / "attributes.csv").write_text(header + "\n" + "\n".join(rows) + "\n")


def _convert(t: Path, fmt: str = "folder_csv", out: str = "out", *extra: str) -> list[str]:
    return ["data", "convert", fmt, "--root", str(t / "root"), "--out", str(t / out), "--quiet", *extra]


def _train_classifier(t: Path) -> list[str]:
    return ["train-classifier", "--config", str(REPO / "configs" / "test_tiny.yaml"), "--no-progress",
            "--set", f"data.root={t / 'dataset'}", "--set", f"classifier.checkpoint={t / RUN / 'ck.pt'}"]


# --- one function per case: prepare the tree, return argv ------------------------------
def c_dotdot(t):
    _csv(t, [*GOOD_ROWS, "../outside/secret.png,red"])
    return _convert(t)


def c_absolute(t):  # used to copy the file onto itself (out/images//abs/path == /abs/path)
    _csv(t, [*GOOD_ROWS, f"{t / 'root' / 'pics' / 'c.png'},red"])
    return _convert(t)


def c_symlink(t):
    _csv(t, [*GOOD_ROWS, "pics/link.png,red"])
    return _convert(t)


def c_text_as_png(t):
    _csv(t, [*GOOD_ROWS, "pics/fake.png,red"])
    return _convert(t)


def c_truncated_png(t):
    _csv(t, [*GOOD_ROWS, "pics/broken.png,red"])
    return _convert(t)


def c_mask_dotdot(t):
    _csv(t, ["pics/a.png,,red", "pics/b.png,../outside/secret.png,blue"], header="path,mask,color")
    return _convert(t)


def c_two_rows_one_output(t):
    _csv(t, [*GOOD_ROWS, "pics//a.png,blue"])
    return _convert(t)


def c_huge_field(t):
    _csv(t, [*GOOD_ROWS[:1], 'pics/b.png,"' + "x" * 140_000 + '"'])
    return _convert(t)


def c_csv_not_utf8(t):
    (t / "root" / "attributes.csv").write_bytes("path,color\npics/a.png,r\xe9d\n".encode("latin-1"))
    return _convert(t)


def c_out_is_a_file(t):
    (t / "outfile").write_text("keep me\n")
    return _convert(t, "folder_csv", "outfile")


def c_out_has_a_manifest(t):
    (t / "out").mkdir()
    (t / "out" / "manifest.csv").write_text("an older conversion\n")
    return _convert(t)


def c_missing_root(t):
    return ["data", "convert", "folder_csv", "--root", str(t / "nowhere"), "--out", str(t / "out"), "--quiet"]


def c_unknown_format(t):
    return _convert(t, "deepfashion")


def c_csv_option_elsewhere(t):
    return _convert(t, "shopping100k", "out", "--csv", str(t / "root" / "attributes.csv"))


def c_synthesis_dotdot(t):
    (t / "root" / "attributes.txt").write_text(
        "2\nimage_name  color  sleeve  evaluation_status\npics/a.png  3  2  train\n../outside/secret.png  1  1  test\n")
    return _convert(t, "deepfashion_synthesis")


def c_shopping100k_absolute(t):
    (t / "root" / "attr_num.txt").write_text("\n".join(["2"] * 12) + "\n")
    (t / "root" / "imgs_train.txt").write_text(f"{t / 'outside' / 'secret.png'}\n")
    (t / "root" / "labels_train.txt").write_text(" ".join(["1", "0"] * 12) + "\n")
    return _convert(t, "shopping100k")


def m_dotdot(t):
    _manifest(t / "dataset", ["../outside/secret.png,p3,shop,train,top,red"])
    return _train_classifier(t)


def m_absolute(t):
    _manifest(t / "dataset", [f"{t / 'outside' / 'secret.png'},p3,shop,train,top,red"])
    return _train_classifier(t)


def m_symlink(t):
    _manifest(t / "dataset", ["images/link.png,p3,shop,train,top,red"])
    return _train_classifier(t)


def m_mask_dotdot(t):
    (t / "dataset" / "manifest.csv").write_text(
        "path,product_id,view,split,mask,category,color\nimages/a.png,p1,shop,train,../outside/secret.png,top,red\n")
    return _train_classifier(t)


def m_huge_field(t):
    _manifest(t / "dataset", ['images/c.png,p3,shop,train,top,"' + "x" * 140_000])
    return _train_classifier(t)


def m_word_unknown(t):
    _manifest(t / "dataset", ["images/c.png,p3,shop,train,top,unknown"])
    return _train_classifier(t)


def s_into_a_dataset(t):
    return ["data", "synth", "--out", str(t / "dataset"), "--products", "10", "--size", "32", "--quiet",
            "--workers", "1"]


def s_out_is_a_file(t):
    (t / "outfile").write_text("keep me\n")
    return ["data", "synth", "--out", str(t / "outfile"), "--products", "10", "--quiet"]


CASES = [  # (case, text the one error line must contain)
    (c_dotdot, "attributes.csv:4: image path '../outside/secret.png' contains '..'; it must stay inside the data set"
               " folder (--root)"),
    (c_absolute, "attributes.csv:4: image path '{t}/root/pics/c.png' is absolute; it must be relative to the data set"),
    (c_symlink, "attributes.csv:4: image path 'pics/link.png' is a symlink that resolves outside the data set folder"
                " (--root) (to {t}/outside/secret.png)"),
    (c_text_as_png, "attributes.csv:4: not a readable image: pics/fake.png (UnidentifiedImageError"),
    (c_truncated_png, "attributes.csv:4: not a readable image: pics/broken.png"),
    (c_mask_dotdot, "attributes.csv:3: image path '../outside/secret.png' contains '..'"),
    (c_two_rows_one_output, "attributes.csv:4: output images/pics/a.png would also be written for attributes.csv:2"),
    (c_huge_field, "attributes.csv:3: cannot parse CSV: a field is longer than 131072 characters"),
    (c_csv_not_utf8, "attributes.csv:2: not UTF-8 text (byte 0xe9)"),
    (c_out_is_a_file, "the output (--out) is an existing file"),
    (c_out_has_a_manifest, "out/manifest.csv: already exists"),
    (c_missing_root, "the data set folder (--root) does not exist"),
    (c_unknown_format, "unknown format 'deepfashion'; formats: deepfashion_category"),
    (c_csv_option_elsewhere, "--csv and --schema are options of folder_csv, not of shopping100k"),
    (c_synthesis_dotdot, "attributes.txt:4: image path '../outside/secret.png' contains '..'"),
    (c_shopping100k_absolute, "imgs_train.txt:1: image path '{t}/outside/secret.png' is absolute"),
    (m_dotdot, "manifest.csv:4: path '../outside/secret.png' contains '..'; it must stay inside the manifest folder"),
    (m_absolute, "manifest.csv:4: path '{t}/outside/secret.png' is absolute"),
    (m_symlink, "manifest.csv:4: path 'images/link.png' is a symlink that resolves outside the manifest folder"),
    (m_mask_dotdot, "manifest.csv:2: mask '../outside/secret.png' contains '..'"),
    (m_huge_field, "manifest.csv:4: cannot parse CSV: a field is longer than 131072 characters"),
    (m_word_unknown, "manifest.csv:4: unknown value 'unknown' for group 'color'; valid values: red, blue"),
    (s_into_a_dataset, "already holds a data set (manifest.csv, schema.json, images); pass --overwrite"),
    (s_out_is_a_file, "is an existing file; give a folder for the data set"),
]


def _snapshot(top: Path) -> dict[str, str]:
    """Every path under ``top`` but ``top/run`` -> its content hash (or symlink target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(top).as_posix()
            if rel == RUN or rel.startswith(RUN + "/"):
                continue
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.mark.parametrize("case, message", CASES, ids=[c.__name__ for c, _ in CASES])
def test_bad_input_fails_in_one_line_and_changes_nothing(tree, capsys, case, message):
    argv = case(tree)
    before = _snapshot(tree)
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("amgan: error: "), err
    assert message.format(t=tree) in lines[0], lines[0]
    # nothing outside the output folder was touched (nor inside it, for convert and synth)
    assert _snapshot(tree) == before
    assert not (tree / "out" / "images").exists()


def test_the_same_tree_converts_when_clean(tree, capsys):
    """The cases above fail for their stated reason: without the bad row the tree converts."""
    before = _snapshot(tree)
    assert main(_convert(tree)) == 0
    after = _snapshot(tree)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed and all(k == "out" or k.startswith("out/") for k in changed)
    assert (tree / "out" / "images" / "pics" / "a.png").read_bytes() == (tree / "root" / "pics" / "a.png").read_bytes()
    from amgan.data.manifest import read_manifest

    assert len(read_manifest(tree / "dataset")) == 2  # the manifest cases' data set is valid without the bad row


def test_symlink_inside_root_is_copied(tree):
    (tree / "root" / "pics" / "alias.png").symlink_to(tree / "root" / "pics" / "c.png")
    _csv(tree, [*GOOD_ROWS, "pics/alias.png,red"])
    assert main(_convert(tree)) == 0
    out = tree / "out" / "images" / "pics" / "alias.png"
    assert not out.is_symlink() and out.read_bytes() == (tree / "root" / "pics" / "c.png").read_bytes()


def test_synth_overwrite_renders_over_a_data_set(tree, capsys):
    ds = tree / "dataset"
    assert main(["data", "synth", "--out", str(ds), "--products", "10", "--size", "32", "--quiet", "--workers", "1",
                 "--overwrite"]) == 0
    from amgan.data.manifest import read_manifest

    m = read_manifest(ds)
    assert len(m) == 30 and "images/a.png" not in m.paths
