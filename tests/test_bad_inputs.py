"""Bad inputs at every door: the CLIs (`amgan edit`, `fir search`, `fir index`, `--config`), the
Python API (Editor.edit, Retriever.search, EditAndSearch.run) and the demo's endpoints.

Each case asserts the one-line message (a substring), the exit code 2 (CLI) or the exception type
(a UserError subclass; gradio_client's AppError for the demo), and, for CLI cases, that nothing
outside the output folder changed (file list, sizes and mtimes of the inputs, models, data and
index before/after) and that no temp file was left anywhere.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from amgan.checkpoint import CheckpointError
from amgan.errors import ImageError, RequestError, UserError

torch.set_num_threads(1)

pytestmark = [pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),  # inside gradio
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present here")
MB_REQUEST = "make it " + "z" * 1_000_000  # a 1 MB request: refused with a short message
MAX_LINE = 700  # a one-line message is short, whatever the input


# ---------------------------------------------------------------- the bad files, made once
def _save_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _perturbed_copy(src: Path, dst: Path, change) -> Path:
    """A legacy single-file checkpoint with ``change(ck)`` applied to its dict."""
    ck = torch.load(src, map_location="cpu", weights_only=True)
    change(ck)
    torch.save(ck, dst)
    return dst


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, synth_tiny, tiny_editor_path, tiny_embedder_path, tiny_flam_path):
    """Paths of every bad (and good) input the cases use, by name."""
    from amgan.data.manifest import read_manifest
    from amgan.pretrained import convert
    from fir.cli import build_index

    d = tmp_path_factory.mktemp("bad_inputs")
    m = read_manifest(synth_tiny / "manifest.csv")
    good = Path(m.image_path(m.indices("test", "shop")[0]))
    img = d / "shirt.png"
    shutil.copy(good, img)
    Image.open(img).convert("RGB").save(d / "shirt.jpg", quality=90)
    # truncated files: half of a 200x200 photo's bytes (the header is whole, the pixel data cut)
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200, 3), np.uint8))
    noise.save(d / "full.png")
    noise.save(d / "full.jpg", quality=90)
    png, jpg = (d / "full.png").read_bytes(), (d / "full.jpg").read_bytes()
    p = {"img": img, "jpg": d / "shirt.jpg", "data": synth_tiny,
         "editor": tiny_editor_path, "embedder": tiny_embedder_path, "flam": tiny_flam_path}
    p["empty"] = _save_bytes(d / "empty.png", b"")
    p["text"] = _save_bytes(d / "notes.png", b"this is a shopping list, not a picture\n")
    p["trunc_png"] = _save_bytes(d / "cut.png", png[: len(png) // 2])
    p["trunc_jpg"] = _save_bytes(d / "cut.jpg", jpg[: len(jpg) // 2])
    Image.new("L", (9000, 9000)).save(d / "bomb.png")  # 81 megapixels in ~80 KB
    p["bomb"] = d / "bomb.png"
    Image.new("RGB", (1, 1), "red").save(d / "dot.png")
    p["dot"] = d / "dot.png"
    p["empty_dir"] = d / "no_images"
    p["empty_dir"].mkdir()
    (d / "text_only").mkdir()
    (d / "text_only" / "readme.txt").write_text("no pictures here")
    p["text_only"] = d / "text_only"
    p["text_ck"] = _save_bytes(d / "model.pt", b"not a checkpoint, just text\n")

    # an editor whose weights hold NaN: as a legacy file, and as a model folder (save_pretrained refuses
    # NaN, so its weights.pt is edited by hand as a broken download or a diverged run would leave it)
    def nan(ck):
        k = next(k for k, v in ck["G_ema"].items() if v.is_floating_point())
        ck["G_ema"][k] = torch.full_like(ck["G_ema"][k], float("nan"))
    p["nan_ck"] = _perturbed_copy(tiny_editor_path, d / "nan_editor.pt", nan)
    folder = convert(tiny_editor_path, d / "nan_editor_folder")
    w = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
    k = next(k for k, v in w["G"].items() if v.is_floating_point())
    w["G"][k][...] = float("nan")
    torch.save(w, folder / "weights.pt")
    p["nan_folder"] = folder

    # the right kind with the wrong shapes: a generator tensor of another size
    def reshape(ck):
        k = next(k for k, v in ck["G_ema"].items() if v.is_floating_point() and v.ndim == 4)
        ck["G_ema"][k] = torch.zeros(ck["G_ema"][k].shape[0] + 1, *ck["G_ema"][k].shape[1:])
    p["shape_ck"] = _perturbed_copy(tiny_editor_path, d / "wrong_shape_editor.pt", reshape)

    # another embedder (one weight nudged: another model id) and the index it built
    def nudge(ck):
        k = next(k for k, v in ck["state_dict"].items() if v.is_floating_point())
        ck["state_dict"][k] = ck["state_dict"][k] + 1e-3
    p["other_embedder"] = _perturbed_copy(tiny_embedder_path, d / "other_embedder.pt", nudge)

    def nan_embedder(ck):
        k = next(k for k, v in ck["state_dict"].items() if v.is_floating_point())
        ck["state_dict"][k] = torch.full_like(ck["state_dict"][k], float("nan"))
    p["nan_embedder"] = _perturbed_copy(tiny_embedder_path, d / "nan_embedder.pt", nan_embedder)
    p["index"] = d / "index"
    build_index(tiny_embedder_path, synth_tiny, p["index"], view="shop", progress=False)
    p["other_index"] = d / "other_index"
    build_index(p["other_embedder"], synth_tiny, p["other_index"], view="shop", progress=False)
    return p


# ---------------------------------------------------------------- what must not change
def _snapshot(roots, skip: Path) -> dict:
    out = {}
    for root in roots:
        root = Path(root)
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            if here == skip or skip in here.parents:
                dirnames[:] = []
                continue
            for name in filenames + [x for x in dirnames]:
                q = here / name
                if q == skip:
                    continue
                st = q.lstat()
                out[str(q)] = (st.st_size if q.is_file() else -1, st.st_mtime_ns)
    return out


def _roots(ctx, tmp_path):
    files = [ctx[k] for k in ("editor", "embedder", "flam")]
    return [ctx["img"].parent, ctx["data"], tmp_path, *{f.parent for f in files}]


def _temps(roots) -> list[Path]:
    return [q for r in roots for q in Path(r).rglob(".*.tmp")]


# ---------------------------------------------------------------- the CLI cases
@dataclass(frozen=True)
class Cli:
    id: str
    prog: str  # "amgan" or "fir"
    argv: tuple  # with {name} placeholders: ctx paths, {out} (the output folder), {mb}
    says: str  # a substring of the one-line message
    marks: tuple = ()


def _edit(*extra, image="{img}", out="{out}/edit.png", edit="color=red", checkpoint="{editor}"):
    argv = ["edit", "--checkpoint", checkpoint, "--image", image, "--out", out]
    return tuple(argv + (["--edit", edit] if edit is not None else []) + list(extra))


def _search(*extra, image="{img}", index="{index}", checkpoint="{embedder}"):
    return ("search", "--index", index, "--checkpoint", checkpoint, "--image", image, *extra)


CLI_CASES = [
    # amgan edit: images
    Cli("edit-empty-file", "amgan", _edit(image="{empty}"), "not a readable image"),
    Cli("edit-text-named-png", "amgan", _edit(image="{text}"), "not a readable image"),
    Cli("edit-truncated-png", "amgan", _edit(image="{trunc_png}"), "cannot be decoded"),
    Cli("edit-truncated-jpeg", "amgan", _edit(image="{trunc_jpg}"), "cannot be decoded"),
    Cli("edit-decompression-bomb", "amgan", _edit(image="{bomb}"), "9000x9000 (81 megapixels); at most 40"),
    Cli("edit-1x1", "amgan", _edit(image="{dot}"), "is 1x1; both sides must be at least 16 pixels"),
    Cli("edit-missing-image", "amgan", _edit(image="{out}/nope.png"), "image not found"),
    Cli("edit-image-is-a-folder", "amgan", _edit(image="{empty_dir}"), "not a file"),
    # amgan edit: outputs and device
    Cli("edit-out-a-folder", "amgan", _edit(out="{out}"), "is a folder; give the output image's file name"),
    Cli("edit-out-gifx", "amgan", _edit(out="{out}/x.gifx"), "unknown image type '.gifx'"),
    Cli("edit-mask-out-bmp", "amgan", _edit("--mask-out", "{out}/m.bmp"), "unknown image type '.bmp'"),
    Cli("edit-mask-out-a-folder", "amgan", _edit("--mask-out", "{out}"), "--mask-out {out} is a folder"),
    Cli("edit-out-under-a-file", "amgan", _edit(out="{img}/edit.png"), "shirt.png is a file, not a folder"),
    Cli("edit-mask-out-under-a-file", "amgan", _edit("--mask-out", "{img}/m.png"), "is a file, not a folder"),
    Cli("edit-manifest-out-under-a-file", "amgan", ("edit", "--checkpoint", "{editor}", "--manifest", "{data}",
                                                    "--out", "{img}/batch", "--edit", "color=red"),
        "is a file, not a folder"),
    Cli("edit-device-cuda-no-gpu", "amgan", _edit("--device", "cuda"), "no CUDA GPU is available",
        marks=(NO_CUDA,)),
    Cli("edit-device-nonsense", "amgan", _edit("--device", "toaster"), "--device toaster"),
    # amgan edit: requests
    Cli("edit-unknown-group", "amgan", _edit(edit="shade=red"), "unknown attribute group 'shade'"),
    Cli("edit-unknown-value", "amgan", _edit(edit="color=chartreuse"), "valid values"),
    Cli("edit-negation", "amgan", _edit(edit="make it not red"), "cannot edit by negation"),
    Cli("edit-1mb-request", "amgan", _edit(edit="{mb}"), "no attribute value found"),
    Cli("edit-nothing-requested", "amgan", _edit(edit=""), "nothing requested"),
    Cli("edit-no-edit-flag", "amgan", _edit(edit=None), "say what to change with --edit"),
    Cli("edit-not-editable", "amgan", _edit(edit="category=dress"), "cannot be edited"),
    Cli("edit-region-sleeves-sleeve-edit", "amgan", _edit("--region", "sleeves", edit="long sleeves"),
        "cannot change the sleeve length"),
    Cli("edit-region-unknown", "amgan", _edit("--region", "elbows"), "invalid choice: 'elbows'"),
    Cli("edit-source-unknown-value", "amgan", _edit("--source", "sleeve=medium"), "valid values"),
    Cli("edit-source-unreadable", "amgan", _edit("--source", "sleeve"), "expected group=value"),
    Cli("edit-even-colour-out-of-range", "amgan", _edit("--even-colour", "2"), "--even-colour must be in [0, 1]"),
    Cli("edit-even-colour-nan", "amgan", _edit("--even-colour", "nan"), "--even-colour must be in [0, 1]"),
    Cli("edit-even-colour-word", "amgan", _edit("--even-colour", "yes"), "invalid float value: 'yes'"),
    # amgan edit: checkpoints
    Cli("edit-checkpoint-text", "amgan", _edit(checkpoint="{text_ck}"), "not a readable checkpoint"),
    Cli("edit-checkpoint-missing", "amgan", _edit(checkpoint="{out}/none.pt"), "model not found"),
    Cli("edit-checkpoint-empty-folder", "amgan", _edit(checkpoint="{empty_dir}"), "not a model folder"),
    Cli("edit-checkpoint-wrong-kind", "amgan", _edit(checkpoint="{embedder}"), "expected 'amgan-editor'"),
    Cli("edit-checkpoint-nan", "amgan", _edit(checkpoint="{nan_ck}"), "NaN or infinite values; refusing"),
    Cli("edit-checkpoint-nan-folder", "amgan", _edit(checkpoint="{nan_folder}"), "NaN or infinite values"),
    Cli("edit-checkpoint-wrong-shapes", "amgan", _edit(checkpoint="{shape_ck}"), "weights do not fit"),
    # amgan edit --manifest
    Cli("edit-manifest-missing", "amgan", ("edit", "--checkpoint", "{editor}", "--manifest", "{empty_dir}",
                                           "--out", "{out}/batch", "--edit", "color=red"), "manifest.csv"),
    # fir search
    Cli("search-folder-without-images", "fir", _search(image="{empty_dir}"), "no images"),
    Cli("search-folder-of-text", "fir", _search(image="{text_only}"), "no images"),
    Cli("search-text-named-png", "fir", _search(image="{text}"), "not a readable image"),
    Cli("search-truncated-jpeg", "fir", _search(image="{trunc_jpg}"), "cannot be decoded"),
    Cli("search-decompression-bomb", "fir", _search(image="{bomb}"), "megapixels"),
    Cli("search-1x1", "fir", _search(image="{dot}"), "at least 16 pixels"),
    Cli("search-k-0", "fir", _search("--k", "0"), "--k must be >= 1, got 0"),
    Cli("search-k-negative", "fir", _search("--k", "-1"), "--k must be >= 1, got -1"),
    Cli("search-k-abc", "fir", _search("--k", "abc"), "invalid int value: 'abc'"),
    Cli("search-index-of-another-embedder", "fir", _search(index="{other_index}"), "rebuild the index"),
    Cli("search-index-missing", "fir", _search(index="{out}/nope"), "no gallery index folder"),
    Cli("search-checkpoint-text", "fir", _search(checkpoint="{text_ck}"), "not a readable checkpoint"),
    Cli("search-checkpoint-wrong-kind", "fir", _search(checkpoint="{editor}"), "expected 'fir-embedder'"),
    Cli("search-checkpoint-nan", "fir", _search(checkpoint="{nan_embedder}"), "NaN or infinite values"),
    Cli("search-unknown-method", "fir", _search("--edit", "color=red", "--method", "telepathy"),
        "invalid choice: 'telepathy'"),
    Cli("search-flam-without-model", "fir", _search("--edit", "color=red", "--method", "flam"),
        "needs the FLAM model"),
    Cli("search-amgan-without-editor", "fir", _search("--edit", "color=red", "--method", "amgan"),
        "give the editor with --editor"),
    Cli("search-source-sleeve-medium", "fir", _search("--edit", "color=red", "--flam", "{flam}",
                                                      "--source", "sleeve=medium"), "valid values"),
    Cli("search-negation", "fir", _search("--edit", "make it not red", "--flam", "{flam}"),
        "cannot edit by negation"),
    Cli("search-1mb-request", "fir", _search("--edit", "{mb}", "--flam", "{flam}"), "no attribute value found"),
    Cli("search-region-sleeves-sleeve-edit", "fir", _search("--edit", "long sleeves", "--method", "amgan",
                                                            "--editor", "{editor}", "--region", "sleeves"),
        "cannot change the sleeve length"),
    Cli("search-region-without-edit", "fir", _search("--region", "sleeves"), "--region goes with --edit"),
    Cli("search-region-with-flam", "fir", _search("--edit", "color=red", "--flam", "{flam}", "--region", "torso"),
        "a region edit is an AMGAN edit"),
    # fir index
    Cli("index-out-a-data-folder", "fir", ("index", "--checkpoint", "{embedder}", "--manifest", "{data}",
                                           "--out", "{img_dir}"), "not a gallery index"),
    Cli("index-out-a-file", "fir", ("index", "--checkpoint", "{embedder}", "--manifest", "{data}",
                                    "--out", "{img}"), "is not a folder"),
    Cli("index-manifest-missing", "fir", ("index", "--checkpoint", "{embedder}", "--manifest", "{empty_dir}",
                                          "--out", "{out}/idx"), "manifest.csv"),
    Cli("index-checkpoint-wrong-kind", "fir", ("index", "--checkpoint", "{editor}", "--manifest", "{data}",
                                               "--out", "{out}/idx"), "expected 'fir-embedder'"),
    Cli("index-checkpoint-nan", "fir", ("index", "--checkpoint", "{nan_embedder}", "--manifest", "{data}",
                                        "--out", "{out}/idx"), "NaN or infinite values"),
    Cli("index-out-under-a-file", "fir", ("index", "--checkpoint", "{embedder}", "--manifest", "{data}",
                                          "--out", "{img}/idx"), "shirt.png is a file, not a folder"),
    Cli("index-batch-size-0", "fir", ("index", "--checkpoint", "{embedder}", "--manifest", "{data}",
                                      "--out", "{out}/idx", "--batch-size", "0"), "--batch-size must be >= 1"),
    Cli("search-threads-negative", "fir", _search("--threads", "-1"), "--threads must be >= 0"),
    Cli("index-split-unknown", "fir", ("index", "--checkpoint", "{embedder}", "--manifest", "{data}",
                                       "--out", "{out}/idx", "--split", "holdout"), "invalid choice: 'holdout'"),
    # --config a folder
    Cli("fir-train-config-folder", "fir", ("train", "--config", "{empty_dir}"), "is a folder, not a YAML config"),
    Cli("amgan-train-config-folder", "amgan", ("train", "--config", "{empty_dir}"), "is a folder, not a YAML"),
]


def _run_cli(prog: str, argv: list, capsys) -> tuple[int, str]:
    from amgan.cli import main as amgan_main
    from fir.cli import main as fir_main

    capsys.readouterr()
    try:
        rc = (amgan_main if prog == "amgan" else fir_main)(argv)
    except SystemExit as e:  # argparse: usage line, then "prog: error: ..."
        rc = e.code
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CLI_CASES])
def test_cli(case: Cli, ctx, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    names = {k: str(v) for k, v in ctx.items()} | {"out": str(out), "mb": MB_REQUEST,
                                                    "img_dir": str(ctx["img"].parent)}
    argv = [a.format(**names) for a in case.argv]
    roots = _roots(ctx, tmp_path)
    before = _snapshot(roots, skip=out)
    rc, err = _run_cli(case.prog, argv, capsys)
    assert rc == 2, err[-2000:]
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x.startswith(f"{case.prog}: error:") or " error: " in x]
    assert len(lines) == 1, err[-2000:]
    says = case.says.replace("{out}", str(out))
    assert says in lines[0], lines[0][:MAX_LINE]
    assert len(lines[0]) < MAX_LINE
    assert _snapshot(roots, skip=out) == before  # nothing outside the output folder changed
    assert not _temps(roots)  # no half-written file anywhere


# ---------------------------------------------------------------- the Python API
@pytest.fixture(scope="module")
def api(ctx):
    from amgan.editor import Editor
    from fir.pipeline import EditAndSearch
    from fir.retriever import Retriever

    ed = Editor.from_checkpoint(ctx["editor"], device="cpu")
    r = Retriever.from_paths(ctx["embedder"], ctx["index"], flam=ctx["flam"])
    return {"editor": ed, "retriever": r, "pipe": EditAndSearch(ed, r)}


def _img(ctx):
    return Image.open(ctx["img"])


API_CASES = [
    # Editor.edit: images
    ("editor-empty-bytes", lambda a, c: a["editor"].edit(b"", "color=red"), ImageError, "not a readable image"),
    ("editor-text-path", lambda a, c: a["editor"].edit(c["text"], "color=red"), ImageError, "not a readable image"),
    ("editor-truncated-png", lambda a, c: a["editor"].edit(c["trunc_png"].read_bytes(), "color=red"), ImageError,
     "cannot be decoded"),
    ("editor-bomb", lambda a, c: a["editor"].edit(c["bomb"], "color=red"), ImageError, "megapixels"),
    ("editor-1x1", lambda a, c: a["editor"].edit(Image.new("RGB", (1, 1)), "color=red"), ImageError,
     "at least 16 pixels"),
    ("editor-nan-array", lambda a, c: a["editor"].edit(np.full((20, 20, 3), np.nan), "color=red"), ImageError,
     "NaN or infinite"),
    ("editor-5-channel-array", lambda a, c: a["editor"].edit(np.zeros((20, 20, 5), np.uint8), "color=red"),
     ImageError, "HxWx3"),
    ("editor-none", lambda a, c: a["editor"].edit(None, "color=red"), ImageError, "expected an image"),
    # Editor.edit: requests
    ("editor-negation", lambda a, c: a["editor"].edit(_img(c), "make it not red"), RequestError, "negation"),
    ("editor-1mb-request", lambda a, c: a["editor"].edit(_img(c), MB_REQUEST), RequestError,
     "no attribute value found"),
    ("editor-unknown-group", lambda a, c: a["editor"].edit(_img(c), {"shade": "red"}), RequestError,
     "unknown attribute group 'shade'"),
    ("editor-request-not-text", lambda a, c: a["editor"].edit(_img(c), 42), RequestError, "must be a mapping"),
    ("editor-unknown-region", lambda a, c: a["editor"].edit(_img(c), "color=red", region="elbows"), RequestError,
     "unknown region 'elbows'"),
    ("editor-region-sleeve-edit", lambda a, c: a["editor"].edit(_img(c), "long sleeves", region="sleeves"),
     RequestError, "cannot change the sleeve length"),
    ("editor-source-sleeve-medium", lambda a, c: a["editor"].edit(_img(c), "color=red", source={"sleeve": "medium"}),
     RequestError, "valid values"),
    # Retriever.search
    ("retriever-k-0", lambda a, c: a["retriever"].search(_img(c), k=0), RequestError, "k must be a whole number"),
    ("retriever-k-negative", lambda a, c: a["retriever"].search(_img(c), k=-1), RequestError, "got '-1'"),
    ("retriever-k-abc", lambda a, c: a["retriever"].search(_img(c), k="abc"), RequestError, "got 'abc'"),
    ("retriever-k-bool", lambda a, c: a["retriever"].search(_img(c), k=True), RequestError, "got 'True'"),
    ("retriever-truncated-jpeg", lambda a, c: a["retriever"].search(c["trunc_jpg"]), ImageError, "cannot be decoded"),
    ("retriever-bomb", lambda a, c: a["retriever"].search(c["bomb"].read_bytes()), ImageError, "megapixels"),
    ("retriever-other-embedders-index", lambda a, c: __import__("fir.retriever").retriever.Retriever.from_paths(
        c["embedder"], c["other_index"]), UserError, "rebuild the index"),
    # EditAndSearch.run
    ("pipeline-unknown-method", lambda a, c: a["pipe"].run(_img(c), "color=red", method="telepathy"), RequestError,
     "unknown method 'telepathy'"),
    ("pipeline-k-0", lambda a, c: a["pipe"].run(_img(c), "color=red", k=0), RequestError, "k must be a whole number"),
    ("pipeline-k-abc", lambda a, c: a["pipe"].run(_img(c), "color=red", method="flam", k="abc"), RequestError,
     "got 'abc'"),
    ("pipeline-negation", lambda a, c: a["pipe"].run(_img(c), "make it not red", method="flam"), RequestError,
     "negation"),
    ("pipeline-1mb-request", lambda a, c: a["pipe"].run(_img(c), MB_REQUEST, method="both"), RequestError,
     "no attribute value found"),
    ("pipeline-region-sleeve-edit", lambda a, c: a["pipe"].run(_img(c), "long sleeves", region="sleeves"),
     RequestError, "cannot change the sleeve length"),
    ("pipeline-region-with-flam", lambda a, c: a["pipe"].run(_img(c), "color=red", region="torso", method="flam"),
     RequestError, "a region edit is an AMGAN edit"),
    ("pipeline-unknown-region", lambda a, c: a["pipe"].run(_img(c), "color=red", region="elbows"), RequestError,
     "unknown region 'elbows'"),
    ("pipeline-source-sleeve-medium", lambda a, c: a["pipe"].run(_img(c), "color=red", source={"sleeve": "medium"}),
     RequestError, "valid values"),
    ("pipeline-empty-file", lambda a, c: a["pipe"].run(c["empty"], "color=red", method="both"), ImageError,
     "not a readable image"),
    ("pipeline-other-embedders-index", lambda a, c: __import__("fir.pipeline").pipeline.EditAndSearch.from_paths(
        embedder=c["embedder"], index=c["other_index"]), UserError, "rebuild the index"),
    ("pipeline-nan-editor", lambda a, c: __import__("fir.pipeline").pipeline.EditAndSearch.from_paths(
        editor=c["nan_ck"]), CheckpointError, "NaN or infinite"),
]


@pytest.mark.parametrize("fn, exc, says", [pytest.param(f, e, s, id=i) for i, f, e, s in API_CASES])
def test_api(fn, exc, says, api, ctx):
    with pytest.raises(exc) as e:
        fn(api, ctx)
    msg = str(e.value)
    assert says in msg and "\n" not in msg and len(msg) < MAX_LINE, msg[:MAX_LINE]


# ---------------------------------------------------------------- the demo
gradio_client = pytest.importorskip("gradio_client")

DEMO_CASES = [
    ("/edit", ("{empty}", "color=red", "whole"), "Not an image"),
    ("/edit", ("{text}", "color=red", "whole"), "Not an image"),
    ("/edit", ("{trunc_png}", "color=red", "whole"), "Not an image"),
    ("/edit", ("{trunc_jpg}", "color=red", "whole"), "Not an image"),
    ("/edit", ("{bomb}", "color=red", "whole"), "at most 40 megapixels"),
    ("/edit", ("{dot}", "color=red", "whole"), "at least 16 pixels"),
    ("/edit", ("{img}", "make it not red", "whole"), "negation"),
    ("/edit", ("{img}", MB_REQUEST, "whole"), "characters long"),
    ("/edit", ("{img}", "shade=red", "whole"), "unknown attribute group"),
    ("/edit", ("{img}", "long sleeves", "sleeves"), "cannot change the sleeve length"),
    ("/search", ("{img}", 0), "k must be a whole number from 1 to 30"),
    ("/search", ("{img}", -1), "k must be a whole number from 1 to 30"),
    ("/search", ("{img}", "abc"), "k must be a whole number from 1 to 30"),
    ("/search", ("{bomb}", 3), "megapixels"),
    ("/edit_and_search", ("{img}", "color=red", "whole", "telepathy", 3), "not in the list of choices"),
    ("/edit_and_search", ("{img}", "color=chartreuse", "whole", "flam", 3), "valid values"),
    ("/edit_and_search", ("{img}", "make it not red", "whole", "both", 3), "negation"),
    ("/edit_and_search", ("{text}", "color=red", "whole", "amgan", 3), "Not an image"),
]


@pytest.fixture(scope="module")
def client(demo_server):
    return gradio_client.Client(demo_server["url"], verbose=False, analytics_enabled=False)


@pytest.mark.parametrize("api_name, args, says", DEMO_CASES,
                         ids=[f"{a[1:]}-{i}-{m[:24]}" for i, (a, x, m) in enumerate(DEMO_CASES)])
def test_demo(api_name, args, says, client, ctx):
    names = {k: str(v) for k, v in ctx.items()}
    args = [gradio_client.handle_file(a.format(**names)) if isinstance(a, str) and a.startswith("{") else a
            for a in args]
    with pytest.raises(gradio_client.exceptions.AppError) as e:
        client.predict(*args, api_name=api_name)
    msg = str(e.value)
    assert says.lower() in msg.lower() and len(msg) < 800, msg[:800]
    assert "Internal error" not in msg


def test_the_matrix_is_big_enough():
    assert len(CLI_CASES) + len(API_CASES) + len(DEMO_CASES) >= 40


@pytest.mark.parametrize("k", [0, -1, "abc", 2.5, None])
def test_pipeline_refuses_k_before_any_model_runs(api, ctx, monkeypatch, k):
    def must_not_run(*a, **kw):
        raise AssertionError("the editor ran for a request with a bad k")

    monkeypatch.setattr(api["editor"], "edit", must_not_run)
    monkeypatch.setattr(api["retriever"], "embed", must_not_run)
    for method in ("amgan", "flam", "both"):
        with pytest.raises(RequestError, match="k must be a whole number >= 1"):
            api["pipe"].run(_img(ctx), "color=red", method=method, k=k)


def test_fir_index_refuses_its_target_before_embedding(ctx, tmp_path, monkeypatch, capsys):
    import fir.model

    def must_not_run(*a, **kw):
        raise AssertionError("images were embedded for an index that cannot be saved")

    monkeypatch.setattr(fir.model, "embed_images", must_not_run)
    (tmp_path / "mine.txt").write_text("keep me")
    rc, err = _run_cli("fir", ["index", "--checkpoint", str(ctx["embedder"]), "--manifest", str(ctx["data"]),
                               "--out", str(tmp_path)], capsys)
    assert rc == 2 and "other files in it (mine.txt)" in err and (tmp_path / "mine.txt").read_text() == "keep me"


@pytest.mark.parametrize("mode", ["I;16", "I", "F"])
def test_high_bit_depth_photos_keep_their_tones(tmp_path, mode):
    """A 16-bit (or float) grey photo is scaled to 8 bits by its range, not clipped at 255 (white)."""
    from amgan.image import to_rgb

    ramp = np.linspace(0, 1, 32 * 32).reshape(32, 32)
    if mode == "F":
        im = Image.fromarray(ramp.astype(np.float32))
    else:
        im = Image.fromarray((ramp * 65535).astype(np.uint16 if mode == "I;16" else np.int32))
        if mode == "I;16":
            im.save(tmp_path / "deep.png")  # as a 16-bit PNG file, read back
            im = tmp_path / "deep.png"
    out = np.asarray(to_rgb(im)).astype(int)
    assert out.shape == (32, 32, 3)
    np.testing.assert_allclose(out[..., 0], np.round(ramp * 255), atol=1)
