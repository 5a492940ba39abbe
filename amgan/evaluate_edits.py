"""Edits judged by probes first, classifiers second: ``amgan evaluate-edits``.

    amgan evaluate-edits --editor checkpoints/amgan_photo64 --data data/synth64 --photos data/clothing \
        --out reports/edits_photo64 [--limit N]

**SynthFashion** (``--data``, a set made ``--with-edits``): every ground-truth edit of
``edits.csv`` (test split), per view (shop, street) and group (colour, pattern, sleeve, neckline),
edited by :meth:`amgan.editor.Editor.edit_batch` at the model's resolution (the editor reads the
source's values itself, as in use; ``--synth-path photo``: each render through
:meth:`amgan.editor.Editor.edit` as a photo instead, garment matte and composite included) and measured against the TRUE edit with :mod:`amgan.probes`:
colour hit (colour edits), shape hit (on the pixels the true edit changes), SSIM and L1 to the
truth, change outside the garment. Second opinions: the independent evaluator classifier
(``--evaluator``, trained on shop renders only) and the independent reader (``--reader``) read the
edited group; both also read the truth (their ceiling). Floors: the unedited source's SSIM/L1 to
the truth.

**Photos** (``--photos``, a set made by ``amgan data convert clothing_dataset`` + ``amgan data
annotate``): test-split photos with an annotator garment mask. Colour edits through the photo path
:meth:`amgan.editor.Editor.edit` at the photo's own resolution, two seeded target colours per photo
with a known colour (never its own): the annotator reads the requested name on the mask, the mean
colour is closer to the target's anchor than to the source's, detail kept, background change (border
band, outside the dilated mask); the reader's colour reading is the second opinion. Sleeve edits
(every other sleeve length, photos with a known sleeve) are judged by the independent reader.
References for detail kept, measured on the same photos: round trips at 64/128/256 px and an exact
recolour (:func:`amgan.probes.hue_rotate`).

Every number comes with its n and a bootstrap 95% interval (:mod:`amgan.intervals`).
``--limit N``: at most N edits per (view, group) on SynthFashion and N photos.
Writes ``metrics.json``, ``report.md`` and ``samples.jpg`` (photo | edit | masks at full size).
"""
from __future__ import annotations

import argparse
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from amgan import probes as P
from amgan.errors import UserError
from amgan.intervals import accuracy_with_ci, mean_with_ci
from amgan.pattern import PATTERN_METHODS
from amgan.reshape import SLEEVE_METHODS

__all__ = ["Judge", "load_judge", "evaluate_synth", "evaluate_photo_edits", "colour_targets", "DEFAULT_EVALUATOR",
           "DEFAULT_READER"]

DEFAULT_EVALUATOR = "checkpoints/evaluator_synth64"
DEFAULT_READER = "checkpoints/evaluator_photo128"  # reads sleeveless photos too (evaluator_reader128 never saw one)
REFERENCE_SIZES = (64, 128, 256)


# ---------------------------------------------------------------------------- judges (second opinions)
@dataclass
class Judge:
    """An independent classifier that reads edits: ``net`` and its own image processor."""

    name: str
    net: torch.nn.Module
    processor: object  # amgan.image.ImageProcessor
    schema_groups: tuple[str, ...]

    @torch.no_grad()
    def read_tensor(self, x: torch.Tensor) -> np.ndarray:
        """[B,3,S,S] in [0,1] at any square size -> int [B, G] readings at the judge's size."""
        s = self.processor.size
        if x.shape[-1] != s:
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=x.shape[-1] > s)
        dev = next(self.net.parameters()).device
        return torch.stack([lg.argmax(1) for lg in self.net(x.to(dev))], 1).cpu().numpy()

    def read_image(self, image) -> np.ndarray:
        """A photo (any size) through the judge's image path -> int [G]."""
        return self.read_tensor(self.processor.preprocess(image).tensor)[0]


def _classifiers_that_guided(editor) -> list[tuple[str, dict]]:
    """(name, state_dict) of the classifiers that trained or guide this editor's generator: its own
    CAM classifier and the one inside the editor its generator came from (when that is present)."""
    out = [("the editor's CAM classifier", {k: v.detach().cpu() for k, v in editor.C.state_dict().items()})]
    src = ((getattr(editor, "pretrained", None) and editor.pretrained.info) or {}).get("generator_from") or {}
    if src.get("path") and Path(src["path"]).exists():
        from amgan.pretrained import load_pretrained

        try:
            out.append((f"the classifier of {src['path']}", load_pretrained(src["path"], kind="classifier").weights["classifier"]))
        except UserError:
            pass
    return out


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k].float(), b[k].float()) for k in a)


def load_judge(path: str | Path, editor, name: str) -> Judge:
    """An independent classifier from ``path``; refused when it is a classifier that trained or
    guides the editor (the same weights)."""
    from amgan.pretrained import load_classifier

    p = Path(path)
    if not p.exists():
        hint = (" (train it: amgan train-reader --config configs/reader128.yaml --set reader.seed=1 --out "
                f"{DEFAULT_READER})" if str(path) == DEFAULT_READER else "")
        raise UserError(f"{name}: {p} not found{hint}")
    net, pre = load_classifier(p, device=editor.device)
    sd = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    for what, other in _classifiers_that_guided(editor):
        if _same_weights(sd, other):
            raise UserError(f"{name} {p} is {what}; an edit must be judged by a classifier that played no part in it")
    if pre.image_processor is None:
        raise UserError(f"{name} {p}: the model has no image processor")
    groups = tuple(g["name"] for g in (pre.schema or {}).get("groups", []))
    if groups != editor.schema.names:
        raise UserError(f"{name} {p} reads groups {list(groups)}, the editor {list(editor.schema.names)}")
    return Judge(f"{name.lstrip('-')} ({p.name})", net.eval(), pre.image_processor, groups)


# ---------------------------------------------------------------------------- SynthFashion
def _load_batch(root: Path, rows: list[dict], size: int, editor):
    from amgan.data.memory import load_image, load_mask

    x = np.stack([load_image(root / r["source"], editor.processor) for r in rows])
    t = np.stack([load_image(root / r["target"], editor.processor) for r in rows])
    sm = np.stack([load_mask(root / r["source"].replace("images/", "masks/", 1), size) for r in rows])
    tm = np.stack([load_mask(root / r["target_mask"], size) for r in rows])
    return x, t, sm, tm


def _summ(values: dict, units: list | None = None) -> dict:
    """Lists of per-edit values -> {name: rate or mean with n and interval}. Hits: None = not measured.
    ``units``: each edit's bootstrap unit (the photo it edits), for the lists that have one value per
    edit: the interval resamples photos, each with all its edits."""
    out = {}
    for k, v in values.items():
        u = np.asarray(units) if units is not None and len(units) == len(v) and len(v) else None
        if k.endswith(("_hit", "_ok", "_rate")):
            keep = np.array([h is not None for h in v], bool)
            measured = [bool(h) for h in v if h is not None]
            out[k] = accuracy_with_ci(measured, clusters=None if u is None else u[keep])
            if len(measured) != len(v):
                out[k]["not_measured"] = len(v) - len(measured)
        else:
            out[k] = mean_with_ci(v, clusters=u)
    return out


SYNTH_PATHS = ("model", "photo")


def _edit_synth(editor, x: np.ndarray, group: str, target: np.ndarray, path: str,
                sleeve_method: str = "outline", pattern_method: str = "drawn") -> np.ndarray:
    """uint8 [B,S,S,3] renders -> their edits: ``model`` = :meth:`Editor.edit_batch` at the model's
    resolution (the generator alone); ``photo`` = each render through :meth:`Editor.edit` as a user's
    photo (reading, generator, garment matte and composite: what the demo returns; sleeve requests as
    ``sleeve_method`` says, pattern requests as ``pattern_method`` says)."""
    if path == "photo":
        from PIL import Image

        grp = editor.schema.group(group)
        return np.stack([np.asarray(editor.edit(Image.fromarray(im), {group: grp.values[int(v)]},
                                                     sleeve_method=sleeve_method,
                                                     pattern_method=pattern_method).image.convert("RGB"))
                         for im, v in zip(x, target)])
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).float().div(255)
    out = editor.edit_batch(xt.to(editor.device), {group: torch.from_numpy(target)}, cam=False)
    return (out.y.clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)


@torch.no_grad()
def evaluate_synth(editor, data_root, judges: list[Judge], *, limit: int | None = None, batch_size: int = 64,
                   progress: bool = True, path: str = "model", sleeve_method: str = "outline",
                   pattern_method: str = "drawn") -> tuple[dict, dict]:
    """The probes on every ground-truth edit (see the module doc). -> (result, samples) where samples
    are {view: (source, edit, truth) uint8 [k,S,S,3] of the first batch of each group}. ``path``:
    see :func:`_edit_synth`."""
    if path not in SYNTH_PATHS:
        raise UserError(f"unknown edit path {path!r}; use one of {', '.join(SYNTH_PATHS)}")
    from amgan.data.synth_dataset import read_edits

    root = Path(data_root)
    schema, size = editor.schema, editor.size
    rows = read_edits(root)
    need = {"source", "group", "target", "view", "target_mask"}
    if rows and not need <= set(rows[0]):
        raise UserError(f"{root}/edits.csv lacks columns {sorted(need - set(rows[0]))}")
    views = sorted({r["view"] for r in rows})
    result = {"data": str(root), "path": path, "views": {},
              "views_without_edits": sorted({"shop", "street"} - set(views))}
    samples: dict = {}
    t0 = time.perf_counter()
    for view in views:
        per_group = {}
        for grp in schema.manipulable:
            gi = schema.group_index(grp.name)
            grows = [r for r in rows if r["view"] == view and r["group"] == grp.name][:limit]
            vals: dict[str, list] = {k: [] for k in (
                "colour_hit", "shape_hit", "kept_shape_hit", "ssim", "l1", "outside_change", "kept_change",
                "ssim_source", "l1_source")}
            for j in judges:
                vals[f"{j.name}|edit_ok"], vals[f"{j.name}|truth_ok"] = [], []
            for s in tqdm(range(0, len(grows), batch_size), desc=f"{view} {grp.name}", disable=not progress):
                b = grows[s:s + batch_size]
                x, t, sm, tm = _load_batch(root, b, size, editor)
                target = np.array([grp.index(r["value"]) for r in b])
                y = _edit_synth(editor, x, grp.name, target, path, sleeve_method, pattern_method)
                for k in range(len(b)):
                    vals["colour_hit"].append(P.colour_hit(y[k], x[k], t[k], tm[k]).hit if grp.name == "color" else None)
                    shape = P.shape_hit(y[k], x[k], t[k])
                    kept = P.kept_change(y[k], x[k], t[k], sm[k], tm[k])
                    vals["shape_hit"].append(shape.hit)
                    vals["ssim"].append(P.ssim(y[k], t[k]))
                    vals["l1"].append(P.l1(y[k], t[k]))
                    vals["ssim_source"].append(P.ssim(x[k], t[k]))
                    vals["l1_source"].append(P.l1(x[k], t[k]))
                    vals["outside_change"].append(P.outside_change(y[k], x[k], sm[k], tm[k]))
                    vals["kept_shape_hit"].append(P.kept_shape_hit(y[k], x[k], t[k], sm[k], tm[k], hit=shape, kept=kept))
                    vals["kept_change"].append(kept)
                yt = torch.from_numpy(y).permute(0, 3, 1, 2).float().div(255)
                tt = torch.from_numpy(t).permute(0, 3, 1, 2).float().div(255)
                for j in judges:
                    vals[f"{j.name}|edit_ok"] += list(j.read_tensor(yt)[:, gi] == target)
                    vals[f"{j.name}|truth_ok"] += list(j.read_tensor(tt)[:, gi] == target)
                if s == 0:
                    samples.setdefault(view, []).append((x[:4], y[:4], t[:4]))
            if grp.name != "color":
                del vals["colour_hit"]
            summ = _summ({k: v for k, v in vals.items() if "|" not in k})
            summ["judges"] = {j.name: {"edit": accuracy_with_ci(vals[f"{j.name}|edit_ok"]),
                                       "truth": accuracy_with_ci(vals[f"{j.name}|truth_ok"])} for j in judges}
            per_group[grp.name] = {"n": len(grows), **summ}
        result["views"][view] = per_group
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result, samples


# ---------------------------------------------------------------------------- photos
def colour_targets(path: str, source: str, values, k: int = 2, seed: int = 0) -> list[str]:
    """``k`` distinct colour names other than ``source``, drawn by a generator seeded with ``seed``
    and the photo's path (the same photo gets the same targets whatever else is evaluated)."""
    others = [v for v in values if v != source]
    if k > len(others):
        raise ValueError(f"{k} targets asked, {len(others)} colours other than {source!r}")
    rng = np.random.default_rng([int(seed), zlib.crc32(str(path).encode())])
    return [others[i] for i in rng.choice(len(others), size=k, replace=False)]


PHOTO_SPLITS = ("test", "val")
PHOTO_GROUPS = ("color", "sleeve")


def _photo_rows(m, limit, split: str = "test"):
    """Rows of ``split`` with a mask and a known colour or sleeve (manifest order)."""
    ci, si = m.schema.group_index("color"), m.schema.group_index("sleeve")
    rows = [int(i) for i in m.indices(split, None)
            if m.masks[i] and (m.labels[i, ci] >= 0 or m.labels[i, si] >= 0)]
    return rows[:limit]


def _sleeve_slot() -> dict[str, list]:
    """One requested sleeve length's lists: the reader's hits, the outline's share, the photo of each edit, and
    the reader on unedited photos of that length."""
    return {"reader_sleeve_ok": [], "outline_rate": [], "unit": [], "unedited": []}


def evaluate_photo_edits(editor, photos_root, reader: Judge | None, *, limit: int | None = None, seed: int = 0,
                         n_samples: int = 6, progress: bool = True, split: str = "test",
                         groups: tuple[str, ...] = PHOTO_GROUPS, sleeve_method: str = "outline") -> tuple[dict, list]:
    """The photo probes (see the module doc). -> (result, samples) where samples are dicts
    (photo, edit, garment mask, attention, labels) for the sample sheet. ``split``: ``test`` (what is
    reported) or ``val`` (where a setting is chosen, so that the test photos stay unseen);
    ``groups``: the edits made (colour, sleeve or both); ``sleeve_method``: how sleeve edits are made
    (:meth:`amgan.editor.Editor.edit`; ``outline_rate``: the share the outline made)."""
    if split not in PHOTO_SPLITS:
        raise UserError(f"photo split {split!r}: use one of {', '.join(PHOTO_SPLITS)}")
    if not groups or not set(groups) <= set(PHOTO_GROUPS):
        raise UserError(f"photo edit groups {list(groups)}: use one or both of {', '.join(PHOTO_GROUPS)}")
    from PIL import Image

    from amgan.data.manifest import read_manifest
    from amgan.image import to_rgb

    root = Path(photos_root)
    if not (root / "manifest.csv").is_file():
        raise UserError(f"--photos: {root}/manifest.csv not found (amgan data convert clothing_dataset, then "
                        "amgan data annotate)")
    m = read_manifest(root / "manifest.csv")
    schema = m.schema
    for g in ("color", "sleeve"):
        if g not in schema.names or g not in editor.schema.names:
            raise UserError(f"--photos: {root} and the editor need a {g!r} group")
    ci, si = schema.group_index("color"), schema.group_index("sleeve")
    eci, esi = editor.schema.group_index("color"), editor.schema.group_index("sleeve")
    colours, sleeves = schema.group("color").values, schema.group("sleeve").values
    rows = _photo_rows(m, limit, split)
    if not rows:
        raise UserError(f"--photos: {root} has no {split}-split photos with a garment mask and a known colour or sleeve")
    c_vals: dict[str, list] = {k: [] for k in ("name_hit", "majority_hit", "anchor_hit", "reader_colour_ok",
                                               "detail_kept", "detail_kept_interior", "border_change", "outside_change")}
    s_vals: dict[str, list] = {k: [] for k in ("reader_sleeve_ok", "reader_reads_source_rate", "detail_kept",
                                               "detail_kept_interior", "border_change", "outside_change",
                                               "colour_change_interior", "colour_name_kept_rate", "outline_rate",
                                               "unchanged_rate")}
    ref: dict[str, list] = {**{f"round_trip_{s}": [] for s in REFERENCE_SIZES}, "exact_recolour": []}
    ref_in: dict[str, list] = {k: [] for k in ref}  # the same on the garment's interior
    unedited: dict[str, list] = {"annotator_colour_ok": [], "reader_colour_ok": [], "reader_sleeve_ok": []}
    skipped, samples, times = 0, [], {"edit": 0.0, "probes": 0.0}
    units: dict[str, list] = {"color": [], "sleeve": []}  # the photo of each edit (the bootstrap's unit)
    by_target: dict[str, dict[str, list]] = {}  # colour edits per requested colour: hits, detail, photo
    sleeve_by_target: dict[str, dict[str, list]] = {}  # sleeve edits per requested length; the judge on that length
    t0 = time.perf_counter()
    for i in tqdm(rows, desc="photos", unit="photo", disable=not progress):
        photo = to_rgb(m.image_path(i))
        arr = np.asarray(photo)
        with Image.open(m.mask_path(i)) as mk:
            mask = np.asarray(mk) > 0
        if mask.shape != arr.shape[:2] or mask.mean() < 0.01:
            skipped += 1
            continue
        src_colour = colours[m.labels[i, ci]] if m.labels[i, ci] >= 0 else None
        src_sleeve = sleeves[m.labels[i, si]] if m.labels[i, si] >= 0 else None
        t = time.perf_counter()
        inner = P.interior(mask)
        for name, back in [*((f"round_trip_{s}", P.round_trip(arr, s)) for s in REFERENCE_SIZES),
                           ("exact_recolour", P.hue_rotate(arr, mask))]:
            ref[name].append(P.detail_kept(arr, back, mask))
            ref_in[name].append(P.detail_kept(arr, back, inner))
        read0 = reader.read_image(photo) if reader else None
        if src_colour:
            unedited["annotator_colour_ok"].append(P.colour_name_hit(arr, mask, src_colour)[0])
            if reader:
                unedited["reader_colour_ok"].append(bool(read0[eci] == editor.schema.group("color").index(src_colour)))
        if src_sleeve and reader:
            unedited["reader_sleeve_ok"].append(bool(read0[esi] == editor.schema.group("sleeve").index(src_sleeve)))
            sleeve_by_target.setdefault(src_sleeve, _sleeve_slot())["unedited"].append(unedited["reader_sleeve_ok"][-1])
        times["probes"] += time.perf_counter() - t
        jobs = [("color", c) for c in (colour_targets(m.paths[i], src_colour, colours, 2, seed)
                                       if src_colour and "color" in groups else [])]
        jobs += [("sleeve", v) for v in sleeves if src_sleeve and v != src_sleeve and "sleeve" in groups]
        before = None  # the annotator's majority name of the unedited garment (sleeve edits)
        for group, target in jobs:
            t = time.perf_counter()
            res = editor.edit(photo, {group: target}, sleeve_method=sleeve_method)
            times["edit"] += time.perf_counter() - t
            t = time.perf_counter()
            e = np.asarray(res.image)
            bg = P.background_change(arr, e, mask)
            read = reader.read_image(res.image) if reader else None
            line = {"photo": Path(m.paths[i]).name, "group": group, "source": src_colour if group == "color" else src_sleeve,
                    "target": target, "detail": P.detail_kept(arr, e, mask),
                    "detail_interior": P.detail_kept(arr, e, inner), "border": bg["border"]}
            if group == "color":
                hit, reading = P.colour_name_hit(e, mask, target)
                c_vals["name_hit"].append(hit)
                majority = reading.best == target
                c_vals["majority_hit"].append(majority)
                c_vals["anchor_hit"].append(P.anchor_hit(e, mask, target, src_colour).hit)
                bt = by_target.setdefault(target, {"majority_hit": [], "detail_kept": [], "detail_kept_interior": [],
                                                   "unit": []})
                bt["majority_hit"].append(majority)
                bt["detail_kept"].append(line["detail"])
                bt["detail_kept_interior"].append(line["detail_interior"])
                bt["unit"].append(i)
                if reader:
                    c_vals["reader_colour_ok"].append(bool(read[eci] == editor.schema.group("color").index(target)))
                vals = c_vals
                line["read"] = f"{reading.color or 'unknown'} ({reading.best} {reading.confidence:.2f})"
            else:
                if reader:
                    s_vals["reader_sleeve_ok"].append(bool(read[esi] == editor.schema.group("sleeve").index(target)))
                    s_vals["reader_reads_source_rate"].append(bool(read[esi] == editor.schema.group("sleeve").index(src_sleeve)))
                # a sleeve request must not recolour the garment: its interior's colours, and its name
                s_vals["colour_change_interior"].append(P.colour_change(arr, e, inner))
                s_vals["outline_rate"].append(res.method == "outline")
                s_vals["unchanged_rate"].append(res.method == "none")  # the outline could not: left as it was
                st = sleeve_by_target.setdefault(target, _sleeve_slot())
                st["outline_rate"].append(res.method == "outline")
                st["unit"].append(i)
                if reader:
                    st["reader_sleeve_ok"].append(s_vals["reader_sleeve_ok"][-1])
                if before is None:
                    before = P.colour_reading(arr, mask).best
                s_vals["colour_name_kept_rate"].append(P.colour_reading(e, mask).best == before)
                vals = s_vals
                line["read"] = editor.schema.group("sleeve").values[read[esi]] if reader else "-"
            units[group].append(i)
            vals["detail_kept"].append(line["detail"])
            vals["detail_kept_interior"].append(line["detail_interior"])
            vals["border_change"].append(bg["border"])
            vals["outside_change"].append(bg["outside"])
            times["probes"] += time.perf_counter() - t
            quota = n_samples - n_samples // 3 if group == "color" else n_samples // 3  # 4 colour, 2 sleeve of 6
            if sum(sm["group"] == group for sm in samples) < quota and not any(sm["photo"] == line["photo"] for sm in samples):
                samples.append({**line, "image": arr, "edit": e, "mask": mask, "attention": np.asarray(res.mask)})
    n_photos = len(rows) - skipped
    result = {
        "data": str(root), "split": split, "groups": list(groups), "photos": n_photos, "photos_skipped": skipped, "seed": seed,
        "colour_edits": _summ(c_vals, units["color"]), "sleeve_edits": _summ(s_vals, units["sleeve"]),
        "colour_edits_by_target": {t: _summ({k: v for k, v in bt.items() if k != "unit"}, bt["unit"])
                                   for t, bt in sorted(by_target.items())},
        "sleeve_edits_by_target": {
            t: {**_summ({k: v for k, v in st.items() if k in ("reader_sleeve_ok", "outline_rate") and v}, st["unit"]),
                "reader_reads_unedited": accuracy_with_ci(st["unedited"]) if st["unedited"] else None}
            for t, st in sorted(sleeve_by_target.items()) if st["unit"]},
        "bootstrap_unit": "photo",
        "detail_references": _summ(ref), "detail_references_interior": _summ(ref_in), "unedited": _summ(unedited),
        "reader": reader.name if reader else None,
        "seconds": round(time.perf_counter() - t0, 1),
        "seconds_per_edit": round(times["edit"] / max(1, len(c_vals["detail_kept"]) + len(s_vals["detail_kept"])), 3),
    }
    return result, samples


# ---------------------------------------------------------------------------- the command
def add_arguments(p) -> None:
    p.add_argument("--editor", required=True, help="the editor (model folder or editor.pt)")
    p.add_argument("--data", help="a SynthFashion set with ground-truth edits (amgan data synth --with-edits)")
    p.add_argument("--photos", help="an annotated photo set (amgan data convert clothing_dataset + amgan data annotate)")
    p.add_argument("--out", required=True, help="report folder: metrics.json, report.md, samples.jpg")
    p.add_argument("--limit", type=int, default=None, help="at most N edits per view and group, and N photos")
    p.add_argument("--evaluator", default=DEFAULT_EVALUATOR,
                   help="independent classifier for SynthFashion edits ('none': leave out)")
    p.add_argument("--reader", default=DEFAULT_READER,
                   help="independent photo reader: judges photo sleeve edits, second opinion elsewhere ('none': leave out)")
    p.add_argument("--synth-path", default="model", choices=SYNTH_PATHS,
                   help="SynthFashion edits by the generator alone at the model's resolution (model), or each render "
                        "through Editor.edit as a photo, garment matte and composite included (photo)")
    p.add_argument("--photo-split", default="test", choices=PHOTO_SPLITS,
                   help="the photos edited: test (reported) or val (to choose a setting without seeing the test photos)")
    p.add_argument("--photo-groups", default="color,sleeve",
                   help="comma-separated edits made on photos: color, sleeve or both")
    p.add_argument("--sleeve-method", default="outline", choices=SLEEVE_METHODS,
                   help="sleeve edits (photos, and renders with --synth-path photo): reshaped from the garment's "
                        "outline where it can, else left as they are (outline, the editor's default); else the "
                        "generator's edit (outline+generator); or always the generator's (generator)")
    p.add_argument("--pattern-method", default="drawn", choices=PATTERN_METHODS,
                   help="pattern edits of renders with --synth-path photo: striped, checked, dotted and floral drawn on "
                        "the garment (drawn, the editor's default), or the generator's edit (generator)")
    p.add_argument("--colour-spread", type=float, default=None,
                   help="override the editor's colour_spread (0..1) for this evaluation (None: the model's own)")
    p.add_argument("--seed", type=int, default=0, help="seed of the photos' target colours")
    p.add_argument("--samples", type=int, default=6, help="photos on the sample sheet")
    p.add_argument("--device", default=None, help="cpu or cuda (None: cuda when present)")
    p.add_argument("--int8", action=argparse.BooleanOptionalAction, default=None,
                   help="the generator's body in int8 from the model folder's int8.pt (default: when it has one and "
                        "the device is the CPU, as the demo and `amgan edit` run it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _code_state() -> dict:
    """The commit the code was at, and whether amgan/ had changes not committed (they affect the numbers)."""
    import subprocess

    from amgan.checkpoint import code_version

    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], capture_output=True, text=True,
                               timeout=10, cwd=Path(__file__).resolve().parent).stdout.split("\n")
        changed = sorted(line[3:] for line in dirty if line.strip())
    except (OSError, subprocess.SubprocessError):
        changed = None
    return {"commit": code_version(), "uncommitted_changes": changed}


def _command(args) -> str:
    """The command line that reproduces this evaluation (the options that were given)."""
    import shlex

    parts = ["amgan", "evaluate-edits", "--editor", str(args.editor)]
    for flag, v, default in (("--data", args.data, None), ("--photos", args.photos, None), ("--out", args.out, None),
                             ("--limit", args.limit, None), ("--evaluator", args.evaluator, DEFAULT_EVALUATOR),
                             ("--reader", args.reader, DEFAULT_READER), ("--seed", args.seed, 0),
                             ("--samples", args.samples, 6), ("--synth-path", getattr(args, "synth_path", "model"),
                                                              "model"),
                             ("--photo-split", getattr(args, "photo_split", "test"), "test"),
                             ("--photo-groups", getattr(args, "photo_groups", "color,sleeve"), "color,sleeve"),
                             ("--sleeve-method", getattr(args, "sleeve_method", "outline"), "outline"),
                             ("--pattern-method", getattr(args, "pattern_method", "drawn"), "drawn"),
                             ("--colour-spread", getattr(args, "colour_spread", None), None)):
        if v is not None and v != default:
            parts += [flag, str(v)]
    if getattr(args, "int8", None) is not None:
        parts.append("--int8" if args.int8 else "--no-int8")
    return shlex.join(parts)


def run(args) -> dict:
    """``amgan evaluate-edits``: check the inputs, evaluate, write the report folder; returns the metrics."""
    import json

    from amgan.edit_report import photo_sheet, report_markdown, synth_sheet
    from amgan.editor import Editor
    from amgan.io import atomic_write_text

    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be a positive number of edits, got {args.limit}")
    if args.samples < 0:
        raise UserError(f"--samples must be 0 or more, got {args.samples}")
    if not args.data and not args.photos:
        raise UserError("give --data (SynthFashion with ground-truth edits), --photos (annotated photos) or both")
    for flag, folder in (("--data", args.data), ("--photos", args.photos)):
        if folder and not Path(folder).is_dir():
            raise UserError(f"{flag}: {folder} is not a folder")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {out} exists and is not a folder")
    if not Path(args.editor).exists():
        raise UserError(f"--editor: {args.editor} not found")
    t0 = time.perf_counter()
    ed = Editor.from_checkpoint(args.editor, device=args.device, int8=getattr(args, "int8", None))
    spread = getattr(args, "colour_spread", None)
    if spread is not None:
        if not 0.0 <= spread <= 1.0:
            raise UserError(f"--colour-spread must be in [0, 1], got {spread}")
        ed.colour_spread = float(spread)
    photo_groups = tuple(g.strip() for g in getattr(args, "photo_groups", "color,sleeve").split(",") if g.strip())
    none = {"", "none"}
    evaluator = None if args.evaluator in none else load_judge(args.evaluator, ed, "--evaluator")
    reader = None if args.reader in none else load_judge(args.reader, ed, "--reader")
    progress = not args.no_progress
    res = {"editor": str(args.editor), "editor_step": getattr(ed, "checkpoint_step", None), "limit": args.limit,
           "editor_settings": {"attention_floor": ed.attention_floor, "colour_spread": ed.colour_spread,
                               "generator": "int8" if type(ed.G).__name__ == "Int8Generator" else "float"},
           "code": _code_state(),
           "command": _command(args)}
    synth_samples, photo_samples = {}, []
    if args.data:
        res["synth"], synth_samples = evaluate_synth(ed, args.data, [j for j in (evaluator, reader) if j],
                                                     limit=args.limit, progress=progress,
                                                     path=getattr(args, "synth_path", "model"),
                                                     sleeve_method=getattr(args, "sleeve_method", "outline"),
                                                     pattern_method=getattr(args, "pattern_method", "drawn"))
    if args.photos:
        res["photos"], photo_samples = evaluate_photo_edits(ed, args.photos, reader, limit=args.limit, seed=args.seed,
                                                            n_samples=args.samples, progress=progress,
                                                            split=getattr(args, "photo_split", "test"),
                                                            groups=photo_groups,
                                                            sleeve_method=getattr(args, "sleeve_method", "outline"))
    res["seconds"] = round(time.perf_counter() - t0, 1)
    atomic_write_text(out / "metrics.json", json.dumps(res, indent=2) + "\n")
    atomic_write_text(out / "report.md", report_markdown(res))
    if photo_samples:
        photo_sheet(photo_samples, out / "samples.jpg")
    if synth_samples:
        synth_sheet(synth_samples, out / "synth_samples.png")
    return res
