"""Benchmark: editing real photos at their own resolution (``Editor.edit``): quality and latency.

    python bench/bench_photo_edit.py --out bench/out/photo_edit.json            # both parts
    python bench/bench_photo_edit.py --part latency --out bench/out/photo_latency.json
    python bench/bench_photo_edit.py --part quality --save-edits runs/photo_edits/after
    PYTHONPATH=<older tree> python bench/bench_photo_edit.py --part sheet-edits --save-edits runs/photo_edits/before
    python bench/bench_photo_edit.py --part sheet --before runs/photo_edits/before --sheet docs/photo_edits.jpg

Quality, on the first ``--photos`` test-split photos of ``data/clothing`` (``make photos``; sorted
by path) x the requests "make it red", "make it black", "make it blue", over the data set's garment
masks (``masks/``, the annotator's GrabCut):

- ``detail_kept``: Pearson correlation, over the garment, of the luminance high-pass (CIELAB L*
  minus its Gaussian blur, sigma 2 px) of the photo and of the edit: 1 = every fold, seam and
  print kept in place (an exact recolour scores ~0.98; :func:`detail_kept`);
- ``detail_kept_inside_2pct``: the same over the garment less a rim of 2% of the long side (not the
  probe ``amgan.probes.detail_kept_interior``, which leaves out 6 px). Where the
  garment meets the floor a recolour changes the edge's contrast itself (white on teal -> red on
  teal), so an exact recolour inside the hard garment mask scores ~0.8 over the whole garment and
  ~0.99 inside (``exact_recolour_in_hard_mask``, computed on the same photos);
- ``border_change``: mean |edit - photo| / 255 over the outer 5% band of the photo (the
  background, nearly always);
- ``halo``: mean |edit - photo| / 255 in a ring just outside the garment (3% of the long side);
- ``blotch``: the patchiness of the change over the garment, in CIELAB units (:func:`blotch`);
- ``garment_delta_e``: mean CIE76 colour difference (CIELAB) over the garment, photo -> edit;
- ``reads_as_requested``: the share of edits whose garment the training-free colour annotator
  (:func:`amgan.data.annotate.read_colour`) names as the requested colour.

Latency, median of ``--reps`` runs of ``Editor.edit`` (request "make it red"): a 400x533 test photo
and the same photo upscaled to 4000x3000 (12 megapixels), both from a decoded PIL image and from the
JPEG file (decoding included); on the small photo also "with long sleeves" (an edit that keeps the
colour: with a colour namer it waits for the garment mask) and ``Editor.predict``. The JSON also keeps the editor's stage timings of the last run.
Beside the one photo, the median (and 90th percentile) over the first ``--photos`` test photos of 400x533,
each edited once.

Run it against an older checkout with ``PYTHONPATH=<that tree>`` to measure "before": the script
uses only the public ``Editor`` API. ``--save-edits DIR`` keeps the edits (PNG) for the sheet.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = ("red", "black", "blue")
DEFAULT_EDITOR = "checkpoints/amgan_photo128"  # the demo's default editor
SHEET = (("4998118e-5c47-42ba-8b8f-42c18aa42230", "make it red"),  # the demo's real example photos
         ("5f0834b9-d1b6-487f-b463-6c74b1db17ba", "make it blue"),
         ("ff52c8c8-5abd-42fa-8b53-936aded546d5", "make it green"),
         ("87f0405b-bdea-4e8a-a0bf-5199dd1a158c", "make it black"),
         ("87f0405b-bdea-4e8a-a0bf-5199dd1a158c", "with long sleeves"))


# ---------------------------------------------------------------- the probes
def _lab_l(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(rgb, np.uint8))[..., 0].astype(np.float32)


def _highpass(L: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return L - cv2.GaussianBlur(L, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)


def detail_kept(photo: np.ndarray, edit: np.ndarray, mask: np.ndarray, sigma: float = 2.0) -> float:
    """Pearson correlation of the L* high-pass (L* - blur_sigma(L*)) of ``photo`` and ``edit`` over
    ``mask`` (uint8 RGB [H,W,3], bool [H,W]); NaN when the mask is empty or a side is flat."""
    m = np.asarray(mask, bool)
    a, b = _highpass(_lab_l(photo), sigma)[m], _highpass(_lab_l(edit), sigma)[m]
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


try:  # the project's own probes, when they exist (same definition)
    from amgan.probes import detail_kept as _probe_detail_kept  # type: ignore

    def detail_kept(photo, edit, mask, sigma=2.0):  # noqa: F811
        return float(_probe_detail_kept(photo, edit, mask))
except ImportError:
    pass


def _inside_rim(mask: np.ndarray, rim: float = 0.02) -> np.ndarray:
    """The garment less a rim of ``rim`` of the long side (where the garment meets the floor)."""
    import cv2

    k = max(1, round(rim * max(mask.shape)))
    return cv2.erode(mask.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)) > 0


def border_change(photo: np.ndarray, edit: np.ndarray, band: float = 0.05) -> float:
    """Mean |edit - photo| / 255 over the outer ``band`` of each side."""
    H, W = photo.shape[:2]
    bh, bw = max(1, round(band * H)), max(1, round(band * W))
    m = np.ones((H, W), bool)
    m[bh:H - bh, bw:W - bw] = False
    return float(np.abs(edit.astype(np.float32) - photo.astype(np.float32))[m].mean() / 255)


def _lab(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(rgb, np.uint8)).astype(np.float32)


def halo(photo: np.ndarray, edit: np.ndarray, mask: np.ndarray, width: float = 0.03) -> float:
    """Mean |edit - photo| / 255 in the ring just outside the garment (``width`` of the long side):
    where a blob-shaped gate spills the edit onto the floor."""
    import cv2

    m = np.asarray(mask, np.uint8)
    r = max(1, round(width * max(m.shape)))
    ring = (cv2.dilate(m, np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0) & (m == 0)
    if not ring.any():
        return float("nan")
    return float(np.abs(edit.astype(np.float32) - photo.astype(np.float32))[ring].mean() / 255)


def blotch(photo: np.ndarray, edit: np.ndarray, mask: np.ndarray) -> float:
    """The patchiness of the change over the garment: mean CIELAB magnitude of the band-pass of the
    change (edit - photo), Gaussian sigma 1/200 minus sigma 1/25 of the long side (2.7 and 21 px on a
    533-px photo: the 64-px edit's blotches and grid, ~8 px a model pixel), garment-weighted. A uniform
    recolour scores ~0; the photo's own detail does not count (it is in both images)."""
    import cv2

    m = np.asarray(mask, np.float32)
    d = _lab(edit) - _lab(photo)
    s1, s2 = max(photo.shape[:2]) / 200, max(photo.shape[:2]) / 25

    def nblur(a, s):  # normalised convolution over the garment
        num = cv2.GaussianBlur(a * m[..., None], (0, 0), s)
        den = cv2.GaussianBlur(m, (0, 0), s)[..., None]
        return num / np.maximum(den, 1e-6)

    band = nblur(d, s1) - nblur(d, s2)
    inner = m > 0
    return float(np.linalg.norm(band[inner], axis=-1).mean()) if inner.any() else float("nan")


def garment_delta_e(photo: np.ndarray, edit: np.ndarray, mask: np.ndarray) -> float:
    from skimage.color import rgb2lab

    m = np.asarray(mask, bool)
    return float(np.linalg.norm(rgb2lab(edit[m][None]) - rgb2lab(photo[m][None]), axis=-1).mean())


# ---------------------------------------------------------------- the previous photo path, for "before"
class LegacyEditor:
    """``Editor.edit`` as it was before ``amgan.composite`` (commit 506632e), rebuilt from public parts, so
    "before" can be measured with any editor: the model's edit restored as ``x + up(y - x_small)``
    (bilinear), colour/pattern edits gated by GrabCut's garment mask dilated and feathered by 2% of the
    long side. Only ``.edit(image, request).image`` (and timings) are provided."""

    def __init__(self, ed):
        self.ed = ed

    def edit(self, image, request):
        import types

        import cv2
        import torch

        from amgan.data.garment_mask import segment, to_work_size

        ed, t0 = self.ed, time.perf_counter()
        request = ed.schema.parse_edit(request) if isinstance(request, str) else ed.schema.validate_edit(request)
        x, rgb, geom = ed.processor.preprocess(image, ed.device)
        if ed.reader_processor.size != ed.size:
            labels = ed.read_labels(ed.reader_processor.preprocess(rgb, ed.device).tensor, reader_input=True)
        else:
            labels = ed.read_labels(x)
        out = ed.edit_batch(x, request, source=labels)
        x_full = torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1)[None].float().div(255)
        delta = ed.processor.restore((out.y - x).cpu(), geom)
        if set(request) <= {"color", "pattern"}:
            arr = np.asarray(rgb)
            small = to_work_size(arr)
            fg = segment(small).astype(np.float32)
            if fg.mean() >= 0.05:
                k = max(1, int(round(0.02 * max(small.shape[:2]))))
                fg = cv2.dilate(fg, np.ones((2 * k + 1, 2 * k + 1), np.uint8))
                fg = cv2.GaussianBlur(fg, (0, 0), sigmaX=k)
                gate = np.clip(cv2.resize(fg, (arr.shape[1], arr.shape[0]), interpolation=cv2.INTER_LINEAR), 0, 1)
                delta = delta * torch.from_numpy(gate)[None, None]
        y = (x_full + delta).clamp(0, 1)
        img = Image.fromarray((y[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
        return types.SimpleNamespace(image=img, timings={"total": round(time.perf_counter() - t0, 4)})


# ---------------------------------------------------------------- parts
def _test_rows(data: Path, n: int) -> list[dict]:
    with open(data / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test" and r.get("mask")]
    return sorted(rows, key=lambda r: r["path"])[:n]


def quality(ed, data: Path, n: int, save: Path | None) -> dict:
    from amgan.data.annotate import read_colour

    per: dict[str, list] = {k: [] for k in ("detail_kept", "detail_kept_inside_2pct", "border_change", "halo", "blotch",
                                            "garment_delta_e", "reads_as_requested", "seconds")}
    ref: dict[str, list] = {"detail_kept": [], "detail_kept_inside_2pct": []}
    by_req: dict[str, dict[str, list]] = {c: {k: [] for k in per} for c in REQUESTS}
    rows = _test_rows(data, n)
    for r in rows:
        photo = np.asarray(Image.open(data / r["path"]).convert("RGB"))
        mask = np.asarray(Image.open(data / r["mask"])) > 0
        inner = _inside_rim(mask)
        # the reference: an exact recolour to red (linear gain 1, 0.3, 0.3) inside the hard garment mask
        exact = np.where(mask[..., None], np.clip(photo * np.array([1.0, 0.3, 0.3]), 0, 255).astype(np.uint8), photo)
        ref["detail_kept"].append(detail_kept(photo, exact, mask))
        ref["detail_kept_inside_2pct"].append(detail_kept(photo, exact, inner))
        for c in REQUESTS:
            t = time.perf_counter()
            res = ed.edit(Image.fromarray(photo), f"make it {c}")
            sec = time.perf_counter() - t
            edit = np.asarray(res.image.convert("RGB"))
            vals = {"detail_kept": detail_kept(photo, edit, mask),
                    "detail_kept_inside_2pct": detail_kept(photo, edit, inner),
                    "border_change": border_change(photo, edit),
                    "halo": halo(photo, edit, mask), "blotch": blotch(photo, edit, mask),
                    "garment_delta_e": garment_delta_e(photo, edit, mask),
                    "reads_as_requested": float(read_colour(edit, mask).color == c), "seconds": sec}
            for k, v in vals.items():
                per[k].append(v)
                by_req[c][k].append(v)
            if save is not None:
                out = save / c / (Path(r["path"]).stem + ".png")
                out.parent.mkdir(parents=True, exist_ok=True)
                res.image.save(out)

    def summary(d):
        return {k: round(float(np.nanmean(v)), 4) for k, v in d.items() if k != "seconds"} | {
            "median_ms": round(1000 * statistics.median(d["seconds"]), 1)}

    return {"photos": len(rows), "requests": [f"make it {c}" for c in REQUESTS], "all": summary(per),
            "exact_recolour_in_hard_mask": {k: round(float(np.nanmean(v)), 4) for k, v in ref.items()},
            "by_request": {c: summary(v) for c, v in by_req.items()}}


def _median_ms(fn, reps: int) -> dict:
    """Median wall and CPU (this process, all threads) milliseconds of ``reps`` calls after a warm-up;
    on a shared machine the CPU time says what the edit costs, the wall time what a user waits."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"wall": round(1000 * statistics.median(wall), 1), "cpu": round(1000 * statistics.median(cpu), 1),
            "wall_min": round(1000 * min(wall), 1)}


def latency(ed, data: Path, reps: int, photos: int = 40) -> dict:
    rows = _test_rows(data, 1) if (data / "manifest.csv").is_file() else []
    src = data / rows[0]["path"] if rows else ROOT / "demo/examples/87f0405b-bdea-4e8a-a0bf-5199dd1a158c.jpg"
    small = Image.open(src).convert("RGB")
    big = small.resize((3000, 4000) if small.height > small.width else (4000, 3000), Image.BICUBIC)
    out = {"photo": str(src), "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
           "load_average_1min": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as d:
        big_path = Path(d) / "big.jpg"
        big.save(big_path, quality=92)
        for name, im, path in (("small", small, src), ("12mp", big, big_path)):
            key = f"{im.width}x{im.height}"
            out[f"edit_ms/{name}/{key}/pil"] = _median_ms(lambda: ed.edit(im, "make it red"), reps)
            out[f"edit_ms/{name}/{key}/jpeg_file"] = _median_ms(lambda: ed.edit(path, "make it red"), reps)
            out[f"stages_s/{name}"] = ed.edit(im, "make it red").timings
        # an edit that keeps the colour waits for the garment mask when the editor reads colour with a namer
        out[f"edit_ms/small/{small.width}x{small.height}/pil/with_long_sleeves"] = _median_ms(
            lambda: ed.edit(small, "with long sleeves"), reps)
        out[f"predict_ms/small/{small.width}x{small.height}"] = _median_ms(lambda: ed.predict(small), reps)
    out.update(_many_photos(ed, data, photos))
    return out


def _many_photos(ed, data: Path, n: int) -> dict:
    """One photo can be a special case (on the default photo the mask readers change the sleeve reading, so a
    colour edit is generated twice): the median over the first ``n`` test photos of 400x533 (portrait, the
    data set's usual size), each edited once ("make it blue", or "make it red" where it is blue), after a warm-up,
    with the share of edits generated once and the stages' medians."""
    rows = _test_rows(data, 10 ** 9) if (data / "manifest.csv").is_file() else []
    wall, stages, once = [], [], 0
    for r in rows:
        im = Image.open(data / r["path"]).convert("RGB")
        if im.size != (400, 533):
            continue
        request = "make it red" if r.get("color") == "blue" else "make it blue"
        if not wall:
            ed.edit(im, request)  # warm-up
        passes = []
        generate = ed.edit_batch
        ed.edit_batch = lambda *a, **k: passes.append(1) or generate(*a, **k)
        try:
            t = time.perf_counter()
            res = ed.edit(im, request)
            wall.append(time.perf_counter() - t)
        finally:
            del ed.edit_batch
        stages.append(res.timings)
        once += len(passes) == 1
        if len(wall) == n:
            break
    if not wall:
        return {}
    keys = dict.fromkeys(k for st in stages for k in st)
    return {"edit_ms/test_photos_400x533/median": round(1000 * statistics.median(wall), 1),
            "edit_ms/test_photos_400x533/p90": round(1000 * float(np.quantile(wall, 0.9)), 1),
            "edit_ms/test_photos_400x533/photos": len(wall),
            "edit_ms/test_photos_400x533/generated_once": round(once / len(wall), 3),
            "stages_s/test_photos_400x533/median": {k: round(statistics.median(st.get(k, 0.0) for st in stages), 4)
                                                   for k in keys}}


def _key(request: str) -> str:
    return request.replace("make it ", "").replace(" ", "_")


def sheet(data: Path, before: Path, ed, out: Path,
          labels: tuple[str, str] = ("x + up(y - x_small), feathered GrabCut gate", "amgan.composite")) -> Path:
    """input | before | after rows at the photos' own size (before: ``--save-edits`` of an older tree, or
    edits made by it under ``before/<request words>/<stem>.png``), written as JPEG, atomically."""
    from PIL import ImageDraw

    from amgan.io import atomic_write

    tiles = []
    for stem, req in SHEET:
        photo = Image.open(ROOT / "demo/examples" / f"{stem}.jpg").convert("RGB")
        old = before / _key(req) / f"{stem}.png"
        prev = Image.open(old).convert("RGB") if old.exists() else Image.new("RGB", photo.size, "white")
        new = ed.edit(photo, req).image
        w, h = photo.size
        tile = Image.new("RGB", (3 * w, h + 22), "white")
        for i, im in enumerate((photo, prev, new)):
            tile.paste(im, (i * w, 22))
        ImageDraw.Draw(tile).text((6, 5), f'input | before: {labels[0]} | after: {labels[1]} | "{req}"', fill="black")
        tiles.append(tile)
    W = max(t.width for t in tiles)
    canvas = Image.new("RGB", (W, sum(t.height for t in tiles)), "white")
    y = 0
    for t in tiles:
        canvas.paste(t, (0, y))
        y += t.height
    return atomic_write(out, lambda f: canvas.save(f, format="JPEG", quality=85))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--editor", default=str(ROOT / DEFAULT_EDITOR))
    p.add_argument("--data", default=str(ROOT / "data/clothing"))
    p.add_argument("--photos", type=int, default=40)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--part", choices=("all", "quality", "latency", "sheet", "sheet-edits"), default="all")
    p.add_argument("--save-edits", type=Path, default=None)
    p.add_argument("--before", type=Path, default=None, help="edits of the older tree, for --part sheet")
    p.add_argument("--sheet", type=Path, default=None)
    p.add_argument("--labels", nargs=2, metavar=("BEFORE", "AFTER"), default=None,
                   help="the sheet's names of the two edited columns")
    p.add_argument("--legacy", action="store_true",
                   help="measure the previous composite (x + up(y - x_small), feathered gate) with the same editor")
    p.add_argument("--float", action="store_true",
                   help="run the generator in float even where the model folder has an int8 generator (int8.pt)")
    p.add_argument("--malloc-default", action="store_true",
                   help="leave glibc's malloc as it comes (default: amgan.allocator.keep_freed_memory(), as the "
                        "demo and the amgan/fir commands run)")
    p.add_argument("--out", default=str(ROOT / "bench/out/photo_edit.json"))
    a = p.parse_args(argv)
    from amgan.allocator import keep_freed_memory
    from amgan.editor import Editor
    from amgan.io import atomic_write_text

    malloc_tuned = False if a.malloc_default else keep_freed_memory()

    data = Path(a.data)
    have_data = (data / "manifest.csv").is_file()
    if a.part == "quality" and not have_data:
        print(f"bench_photo_edit: {data}/manifest.csv not found; run `make photos` first", file=sys.stderr)
        return 2
    ed = Editor.from_checkpoint(a.editor, device="cpu", int8=False if a.float else None)
    if a.legacy:
        ed = LegacyEditor(ed)
    if a.part == "sheet-edits":  # the sheet's edits by this tree (run with an older tree's PYTHONPATH for "before")
        if a.save_edits is None:
            print("bench_photo_edit: --part sheet-edits needs --save-edits DIR", file=sys.stderr)
            return 2
        for stem, req in SHEET:
            out = a.save_edits / _key(req) / f"{stem}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            ed.edit(ROOT / "demo/examples" / f"{stem}.jpg", req).image.save(out)
        return 0
    if a.part == "sheet":
        if a.sheet is None or a.before is None:
            print("bench_photo_edit: --part sheet needs --sheet OUT.jpg and --before DIR", file=sys.stderr)
            return 2
        print(sheet(data, a.before, ed, a.sheet, *([tuple(a.labels)] if a.labels else [])))
        return 0
    import amgan.editor

    res = {"editor": a.editor, "editor_module": amgan.editor.__file__,
           "generator": type(getattr(ed, "G", None)).__name__,
           "composite": "legacy: x + up(y - x_small), feathered gate" if a.legacy else "amgan.composite"}
    if a.part in ("all", "quality"):
        res["quality"] = (quality(ed, data, a.photos, a.save_edits) if have_data
                          else f"skipped: {data}/manifest.csv not found (make photos)")
    if a.part in ("all", "latency"):
        res["latency"] = {**latency(ed, data, a.reps, a.photos), "malloc_tuned": malloc_tuned}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(a.out, json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
