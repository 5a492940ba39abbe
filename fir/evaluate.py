"""Retrieval-based evaluation of attribute edits: ``fir evaluate --config C --out DIR``.

Protocol (DESIGN.md, "Retrieval-based evaluation"; AMGAN/ADDE top-k accuracy):

- **Queries**: every ground-truth edit of ``edits.csv`` whose source image is in
  ``data.split`` and ``data.view`` (SynthFashion: one single-attribute edit per
  manipulable group per test image).
- **Gallery**: the catalogue images of that split and view plus every ground-truth edit
  render (so each query's "sibling", the same garment with the requested value, is in
  it), embedded with the FIR embedder into an exact faiss index.
- **Methods**: ``unedited`` (the query as is: the floor), ``amgan`` (the Editor's
  image-level edit, re-embedded), ``amgan_region`` (colour and pattern edits done as two
  region-specific passes, sleeves then torso, with the Editor's own sleeve mask; sleeve
  and neckline edits, which no region edit can make, use the whole edit), ``flam``
  (the query's FIR feature moved by FLAM, source attributes read by FLAM itself),
  ``stargan`` (the StarGAN-style ablation editor, when its checkpoint is configured and
  exists) and ``truth`` (the ground-truth render: the ceiling).
- **Top-k retrieval accuracy** (k = 1..``max_k``): a hit is a retrieved item whose full
  attribute vector equals the target vector; a query counts only when the gallery holds
  such an item (:func:`fir.metrics.valid_query_mask`). Also **exact-item** hits (the
  sibling itself retrieved).
- **Edit quality** of image methods: an independent evaluator classifier (never used to
  train the GAN) reads the edited attribute (``edit_acc``) and the others
  (``preserve_acc``); L1 and SSIM to the ground-truth render; mean change outside the
  source and target garments; IoU of the attention (a > 0.5) with the pixels the true
  edit changes. LPIPS only when its pretrained AlexNet trunk is on disk (never downloaded).
- **Region-specific edits** (colour requests, region sleeves / torso): change inside
  and outside the true region (SynthFashion region maps) and attention IoU with it.
- **Latency** per query through the public APIs at batch 1 (Editor.edit + Retriever.search
  against Retriever.flam_search), on ``latency_queries`` queries.

Writes ``metrics.json``, ``report.md``, ``report.html`` (self-contained: images inlined),
``topk_curves.png``, ``per_group_top30.png``, ``samples.png`` (see :mod:`fir.report`).
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from amgan.config import ConfigBase, add_config_arguments, build_config, load_dataclass_config
from amgan.errors import UserError

__all__ = ["EvalConfig", "load_eval_config", "evaluate", "lpips_status", "main"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalDataConfig:
    root: str = "data/synth64"  # a SynthFashion folder with edits.csv (amgan data synth --with-edits)
    split: str = "test"
    view: str = "shop"


@dataclass(frozen=True)
class EvalConfig(ConfigBase):
    data: EvalDataConfig = field(default_factory=EvalDataConfig)
    editor: str = "checkpoints/amgan_synth64"
    ablation_editor: str = ""  # StarGAN-style ablation editor; "" or a missing file: method skipped
    embedder: str = "checkpoints/fir_synth64"
    flam: str = ""  # "" : FLAM skipped
    evaluator: str = "checkpoints/evaluator_synth64"
    region: bool = True  # the amgan_region method and the region-fidelity table
    max_k: int = 30
    ks: tuple[int, ...] = (1, 5, 10, 20, 30)
    batch_size: int = 64
    limit: int = 0  # first N queries only (0: all)
    samples_per_group: int = 2
    latency_queries: int = 20
    lpips: str = "auto"  # auto: when the AlexNet trunk is cached; off

    def validate(self) -> "EvalConfig":
        from amgan.config import ConfigError

        checks = [
            (self.data.split in ("train", "val", "test"), "data.split must be train, val or test"),
            (self.max_k >= 1, "max_k must be >= 1"),
            (len(self.ks) > 0 and all(1 <= k <= self.max_k for k in self.ks), "ks must be in 1..max_k"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.limit >= 0 and self.samples_per_group >= 0 and self.latency_queries >= 0,
             "limit, samples_per_group and latency_queries must be >= 0"),
            (self.lpips in ("auto", "off"), "lpips must be 'auto' or 'off'"),
            (bool(self.editor) and bool(self.embedder) and bool(self.evaluator),
             "editor, embedder and evaluator must name checkpoints"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        return self


def load_eval_config(path=None, overrides=None) -> EvalConfig:
    return load_dataclass_config(EvalConfig, path, overrides)


def eval_config_from_dict(d: dict) -> EvalConfig:
    return build_config(EvalConfig, d or {}, "").validate()


def lpips_status() -> tuple[bool, str]:
    """(available, why): LPIPS needs the optional ``lpips`` package (the ``[lpips]`` extra) and
    torchvision's ImageNet AlexNet weights on disk. Nothing is imported here; ``evaluate``
    imports ``lpips`` only when both are present."""
    import importlib.util

    if importlib.util.find_spec("lpips") is None:
        return False, ("lpips not installed (it is optional: pip install 'amgan-fir[lpips]'), "
                       "so LPIPS is not reported")
    ck = Path(torch.hub.get_dir()) / "checkpoints" / "alexnet-owt-7be5be79.pth"
    if not ck.is_file():
        return False, (f"LPIPS compares AlexNet features, and the ImageNet AlexNet weights it needs are not on this "
                       f"machine ({ck}); nothing is downloaded at run time, so LPIPS is not reported")
    return True, f"AlexNet trunk found at {ck}"


# ---------------------------------------------------------------- data
@dataclass
class Queries:
    rows: list[dict]
    groups: list[str]  # edited group per query
    src_labels: np.ndarray  # [Q, G]
    tgt_labels: np.ndarray  # [Q, G]
    x: torch.Tensor  # [Q,3,S,S] float in [0,1]
    truth: torch.Tensor
    src_regions: np.ndarray  # [Q,S,S] uint8 region ids
    tgt_regions: np.ndarray
    src_paths: list[str]
    tgt_paths: list[str]


def _load_queries(root: Path, split: str, view: str, size: int, schema, limit: int, progress: bool) -> Queries:
    from amgan.data.manifest import read_manifest
    from amgan.data.memory import load_image, load_mask
    from amgan.data.synth_dataset import read_edits

    m = read_manifest(root / "manifest.csv")
    row_of = {p: i for i, p in enumerate(m.paths)}
    rows = [r for r in read_edits(root) if r["view"] == view and r["source"] in row_of
            and m.splits[row_of[r["source"]]] == split]
    if limit:
        rows = rows[:limit]
    if not rows:
        raise ValueError(f"{root}/edits.csv has no edits of {split} images of view {view!r}")
    src = np.stack([m.labels[row_of[r["source"]]] for r in rows]).astype(np.int64)
    tgt = np.stack([schema.encode({g: r[g] for g in schema.names}) for r in rows]).astype(np.int64)

    def imgs(paths, desc):
        arr = np.stack([load_image(root / p, size) for p in tqdm(paths, desc=desc, disable=not progress)])
        return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(255)

    src_masks = [m.masks[row_of[r["source"]]] for r in rows]
    if not all(src_masks) or not all(r.get("target_mask") for r in rows):
        raise ValueError(f"{root}: the evaluation needs region masks for sources and edit targets")
    return Queries(
        rows=rows, groups=[r["group"] for r in rows], src_labels=src, tgt_labels=tgt,
        x=imgs([r["source"] for r in rows], "load queries"), truth=imgs([r["target"] for r in rows], "load truths"),
        src_regions=np.stack([load_mask(root / p, size) for p in src_masks]),
        tgt_regions=np.stack([load_mask(root / r["target_mask"], size) for r in rows]),
        src_paths=[str(root / r["source"]) for r in rows], tgt_paths=[str(root / r["target"]) for r in rows])


def _gallery(root: Path, split: str, view: str, q: Queries, schema):
    """Catalogue rows of split/view + every ground-truth edit render: (paths, labels, meta)."""
    from amgan.data.manifest import read_manifest
    from amgan.data.synth_dataset import read_edits

    m = read_manifest(root / "manifest.csv")
    paths, labels, meta = [], [], []
    for i in m.indices(split, view):
        paths.append(str(m.image_path(i)))
        labels.append(m.labels[i])
        meta.append({"path": paths[-1], "product_id": m.product_ids[i], "source": "catalogue",
                     "attributes": schema.decode(m.labels[i])})
    row_of = {p: i for i, p in enumerate(m.paths)}
    seen = set()
    for r in read_edits(root):  # every edit render of the split (not only the queries kept by `limit`)
        if r["view"] != view or r["source"] not in row_of or m.splits[row_of[r["source"]]] != split:
            continue
        if r["target"] in seen:
            continue
        seen.add(r["target"])
        lab = schema.encode({g: r[g] for g in schema.names})
        paths.append(str(root / r["target"]))
        labels.append(lab)
        meta.append({"path": paths[-1], "product_id": r["target_product_id"], "source": "edit-truth",
                     "attributes": schema.decode(lab)})
    return paths, np.stack(labels).astype(np.int64), meta


# ---------------------------------------------------------------- methods
@torch.no_grad()
def _edit_images(editor, q: Queries, batch_size: int, region: bool, progress: bool, desc: str):
    """-> (edited [Q,3,S,S], attention [Q,1,S,S], cam [Q,1,S,S], predicted source labels [Q,G]).

    Every edit goes through :meth:`amgan.editor.Editor.edit_batch`, the path users call; the
    region-specific method is its ``"sleeves+torso"`` mode for colour and pattern edits.
    """
    schema = editor.schema
    Q = len(q.rows)
    y_all, a_all, cam_all = torch.zeros_like(q.x), torch.zeros_like(q.x[:, :1]), torch.zeros_like(q.x[:, :1])
    pred_all = np.zeros_like(q.src_labels)
    tgt = torch.from_numpy(q.tgt_labels)
    for gname in dict.fromkeys(q.groups):
        gi = schema.group_index(gname)
        idx_g = [i for i in range(Q) if q.groups[i] == gname]
        mode = "sleeves+torso" if region and gname in ("color", "pattern") else None
        for s in tqdm(range(0, len(idx_g), batch_size), desc=f"{desc} {gname}", disable=not progress):
            idx = torch.tensor(idx_g[s:s + batch_size])
            out = editor.edit_batch(q.x[idx], {gname: tgt[idx, gi]}, region=mode)
            y_all[idx], a_all[idx], cam_all[idx] = out.y.cpu(), out.a.cpu(), out.cam.cpu()
            pred_all[idx.numpy()] = out.source_labels.cpu().numpy()
    return y_all, a_all, cam_all, pred_all


@torch.no_grad()
def _region_fidelity(editor, q: Queries, batch_size: int, progress: bool) -> dict:
    """Colour edits kept to the sleeves or the torso: change inside/outside the true region."""
    from amgan.data.synth import REGIONS
    from fir.metrics import iou

    schema = editor.schema
    idx_c = [i for i, g in enumerate(q.groups) if g == "color"]
    if not idx_c or "sleeve" not in schema.names:
        return {}
    true = {"sleeves": q.src_regions == REGIONS["sleeves"],
            "torso": np.isin(q.src_regions, [REGIONS["torso"], REGIONS["neckline"], REGIONS["skirt"]])}
    out = {}
    gi = schema.group_index("color")
    tgt = torch.from_numpy(q.tgt_labels)
    for region in ("sleeves", "torso"):
        inside, outside, ious, n_in, n_out = [], [], [], 0, 0
        for s in tqdm(range(0, len(idx_c), batch_size), desc=f"region {region}", disable=not progress):
            idx = torch.tensor(idx_c[s:s + batch_size])
            x = q.x[idx]
            res = editor.edit_batch(x, {"color": tgt[idx, gi]}, region=region, cam=False)
            a = res.a.cpu()
            diff = (res.y.cpu() - x).abs().mean(1).numpy()
            t = true[region][idx.numpy()]
            inside.append(float((diff * t).sum()))
            outside.append(float((diff * ~t).sum()))
            n_in += int(t.sum())
            n_out += int((~t).sum())
            has = t.reshape(len(t), -1).any(1)
            if has.any():
                ious.extend(iou(a[:, 0].numpy()[has] > 0.5, t[has]).tolist())
        out[region] = {"n": len(idx_c), "change_inside": round(sum(inside) / max(1, n_in), 4),
                       "change_outside": round(sum(outside) / max(1, n_out), 5),
                       "attention_iou": round(float(np.nanmean(ious)), 4) if ious else None,
                       "n_with_region": len(ious)}
    return out


def _edit_quality(evaluator, q: Queries, y: torch.Tensor, a: torch.Tensor | None, schema, batch_size: int,
                  lpips_fn=None) -> dict:
    from fir.metrics import attribute_accuracy, iou, masked_mean_abs_diff, ssim

    with torch.no_grad():
        pred = np.concatenate([torch.stack([lg.argmax(1) for lg in evaluator(y[s:s + batch_size])], 1).numpy()
                               for s in range(0, len(y), batch_size)])
    edited = q.tgt_labels != q.src_labels
    acc = attribute_accuracy(pred, q.tgt_labels, edited)
    yn, tn, xn = (t.permute(0, 2, 3, 1).numpy().astype(np.float64) for t in (y, q.truth, q.x))
    outside_mask = (q.src_regions == 0) & (q.tgt_regions == 0)
    out_change, _ = masked_mean_abs_diff(yn, xn, outside_mask)
    s = ssim(yn, tn)
    l1 = np.abs(yn - tn).mean(axis=(1, 2, 3))
    per_group = {}
    for gi, g in enumerate(schema.names):
        sel = np.array([gg == g for gg in q.groups])
        if not sel.any():
            continue
        per_group[g] = {"edit_acc": round(float(acc["edit_acc_per_group"][gi]), 4),
                        "ssim_to_truth": round(float(s[sel].mean()), 4), "l1_to_truth": round(float(l1[sel].mean()), 4)}
    res = {"edit_acc": round(acc["edit_acc"], 4), "preserve_acc": round(acc["preserve_acc"], 4),
           "edit_acc_mean_over_groups": round(float(np.nanmean([v["edit_acc"] for v in per_group.values()])), 4),
           "ssim_to_truth": round(float(s.mean()), 4), "l1_to_truth": round(float(l1.mean()), 4),
           "outside_change": round(out_change, 5), "per_group": per_group}
    if a is not None:
        changed = np.abs(tn - xn).mean(axis=3) > 0.05
        has = changed.reshape(len(changed), -1).any(1)
        res["attention_iou"] = round(float(np.nanmean(iou(a[:, 0].numpy()[has] > 0.5, changed[has]))), 4)
    if lpips_fn is not None:
        with torch.no_grad():
            d = torch.cat([lpips_fn(y[s:s + batch_size] * 2 - 1, q.truth[s:s + batch_size] * 2 - 1).flatten()
                           for s in range(0, len(y), batch_size)])
        res["lpips_to_truth"] = round(float(d.mean()), 4)
    return res


def _retrieval(index, emb: np.ndarray, q: Queries, gal_labels, gal_paths, schema, max_k: int, ks) -> tuple[dict, np.ndarray]:
    from fir.metrics import recall_curve, topk_attribute_accuracy_curve, valid_query_mask

    k = min(max_k, index.count)
    _, ids = index.search(emb, k)
    pos = {int(i): j for j, i in enumerate(index.ids)}
    rows = np.array([[pos.get(int(i), -1) for i in r] for r in ids])
    ret_labels = np.where(rows[..., None] >= 0, gal_labels[np.maximum(rows, 0)], -1)
    valid = valid_query_mask(gal_labels, q.tgt_labels)
    curve = topk_attribute_accuracy_curve(ret_labels, q.tgt_labels, valid)
    path_pos = {p: j for j, p in enumerate(gal_paths)}
    exact = recall_curve(rows, np.array([path_pos.get(p, -2) for p in q.tgt_paths]), valid)
    res = {"topk_curve": [round(float(v), 4) for v in curve],
           "exact_item_curve": [round(float(v), 4) for v in exact],
           **{f"top{kk}": round(float(curve[min(kk, k) - 1]), 4) for kk in ks},
           "exact_item@%d" % max_k: round(float(exact[k - 1]), 4),
           "valid_queries": int(valid.sum()), "per_group": {}}
    for g in dict.fromkeys(q.groups):
        sel = np.array([gg == g for gg in q.groups])
        c = topk_attribute_accuracy_curve(ret_labels[sel], q.tgt_labels[sel], valid[sel])
        res["per_group"][g] = {f"top{kk}": round(float(c[min(kk, k) - 1]), 4) for kk in ks}
    return res, rows


# ---------------------------------------------------------------- main entry
def evaluate(cfg: EvalConfig, out: str | Path, progress: bool = True) -> dict:
    from amgan.editor import Editor
    from amgan.io import atomic_write_text
    from amgan.pretrained import load_classifier, load_pretrained, model_id
    from fir.flam import load_flam
    from fir.index import GalleryIndex
    from fir.model import embed_images, load_embedder
    from fir.pipeline import EditAndSearch
    from fir.report import write_report
    from fir.retriever import Retriever

    t_all = time.perf_counter()
    out = Path(out)
    root = Path(cfg.data.root)
    for name in ("editor", "embedder", "evaluator"):
        if not Path(getattr(cfg, name)).exists():
            raise UserError(f"{name} model not found: {getattr(cfg, name)}")
    editor = Editor.from_checkpoint(cfg.editor, device="cpu")
    schema = editor.schema
    evaluator, ev_p = load_classifier(cfg.evaluator)
    ed_cls = load_pretrained(cfg.editor, kind="classifier").weights["classifier"]
    ev_sd = ev_p.weights["classifier"]
    if ed_cls.keys() == ev_sd.keys() and all(torch.equal(ed_cls[k].float(), ev_sd[k].float()) for k in ev_sd):
        raise UserError(f"the evaluator {cfg.evaluator} is the classifier that trained the GAN; "
                        f"train an independent one (amgan train-classifier --seed 1 --out ...)")
    del ed_cls
    net, emb_p = load_embedder(cfg.embedder)
    embedder_id = model_id(cfg.embedder)
    methods_skipped = {}
    flam = None
    if cfg.flam and Path(cfg.flam).exists():
        flam = load_flam(cfg.flam, expect_embedder_id=embedder_id)
    else:
        methods_skipped["flam"] = f"no FLAM checkpoint ({cfg.flam or 'flam not set'})"
    ablation = None
    if cfg.ablation_editor and Path(cfg.ablation_editor).exists():
        ablation = Editor.from_checkpoint(cfg.ablation_editor, device="cpu")
    else:
        methods_skipped["stargan"] = f"no ablation editor checkpoint ({cfg.ablation_editor or 'not set'})"
    lp_ok, lp_why = lpips_status() if cfg.lpips == "auto" else (False, "lpips: off in the config")
    lpips_fn = None
    if lp_ok:
        import lpips

        lpips_fn = lpips.LPIPS(net="alex", verbose=False).eval()

    q = _load_queries(root, cfg.data.split, cfg.data.view, editor.size, schema, cfg.limit, progress)
    gal_paths, gal_labels, gal_meta = _gallery(root, cfg.data.split, cfg.data.view, q, schema)
    from amgan.data.memory import load_image

    gal_imgs = torch.from_numpy(np.stack([load_image(p, editor.size) for p in gal_paths])).permute(0, 3, 1, 2)
    gal_emb = embed_images(net, gal_imgs.contiguous(), 128, progress=progress, desc="embed gallery")
    index = GalleryIndex.build(gal_emb, gal_meta, model_id=embedder_id, kind="flat")

    def embed(x):
        return embed_images(net, (x * 255 + 0.5).clamp(0, 255).to(torch.uint8), 128, progress=False)

    methods: dict[str, dict] = {}
    visuals: dict[str, dict] = {}
    rankings: dict[str, np.ndarray] = {}
    timings: dict[str, float] = {}

    def add(name, emb, y=None, a=None, cam=None):
        r, rows = _retrieval(index, emb, q, gal_labels, gal_paths, schema, cfg.max_k, cfg.ks)
        methods[name] = {"retrieval": r}
        rankings[name] = rows
        if y is not None:
            methods[name]["edit_quality"] = _edit_quality(evaluator, q, y, a, schema, cfg.batch_size, lpips_fn)
            visuals[name] = {"y": y, "a": a, "cam": cam}

    t = time.perf_counter()
    add("unedited", embed(q.x))
    timings["unedited"] = time.perf_counter() - t
    for name, ed, region in (("amgan", editor, False), ("amgan_region", editor, True), ("stargan", ablation, False)):
        if ed is None or (region and not cfg.region):
            continue
        t = time.perf_counter()
        y, a, cam, _ = _edit_images(ed, q, cfg.batch_size, region, progress, name)
        add(name, embed(y), y, a, cam)
        timings[name] = time.perf_counter() - t
    if flam is not None:
        t = time.perf_counter()
        f = embed(q.x)
        src = flam.predict_labels(f)
        tgt = src.copy()
        for i, g in enumerate(q.groups):
            gi = schema.group_index(g)
            tgt[i, gi] = q.tgt_labels[i, gi]
        add("flam", flam.manipulate(f, src, tgt))
        methods["flam"]["source_attribute_accuracy"] = round(float((src == q.src_labels).mean()), 4)
        methods["flam"]["strength"] = flam.strength
        timings["flam"] = time.perf_counter() - t
    t = time.perf_counter()
    add("truth", embed(q.truth), q.truth, None, None)
    timings["truth"] = time.perf_counter() - t

    region = _region_fidelity(editor, q, cfg.batch_size, progress) if cfg.region else {}
    pipeline = EditAndSearch(editor, Retriever(net, index, emb_p.image_processor, flam=flam, model_id=embedder_id))
    latency = _latency(pipeline, q, cfg.latency_queries, schema)
    metrics = {
        "protocol": {"queries": len(q.rows), "gallery": int(index.count),
                     "gallery_catalogue": sum(m["source"] == "catalogue" for m in gal_meta),
                     "gallery_edit_truths": sum(m["source"] == "edit-truth" for m in gal_meta),
                     "split": cfg.data.split, "view": cfg.data.view, "max_k": cfg.max_k, "ks": list(cfg.ks),
                     "queries_per_group": {g: q.groups.count(g) for g in dict.fromkeys(q.groups)}},
        "checkpoints": {k: {"path": str(p), "sha256": model_id(p)} for k, p in
                        (("editor", cfg.editor), ("ablation_editor", cfg.ablation_editor), ("embedder", cfg.embedder),
                         ("flam", cfg.flam), ("evaluator", cfg.evaluator)) if p and Path(p).exists()},
        "methods": methods, "methods_skipped": methods_skipped, "region_specific": region, "latency": latency,
        "method_seconds_total": {k: round(v, 2) for k, v in timings.items()},
        "lpips": {"available": lp_ok, "why": lp_why},
        "evaluator_test_accuracy": (ev_p.info.get("metrics") or {}).get("test_accuracy"),
        "config": cfg.to_dict(), "seconds": round(time.perf_counter() - t_all, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_report(out, metrics, q, visuals, rankings, gal_paths, gal_labels, cfg.samples_per_group)
    return metrics


def _latency(pipeline, q: Queries, n: int, schema) -> dict:
    """Per-query seconds at batch 1 through :class:`fir.pipeline.EditAndSearch`, the path the demo
    and ``fir search`` take (median over n queries)."""
    from PIL import Image

    if n == 0:
        return {}
    retriever = pipeline.retriever
    torch.set_grad_enabled(False)
    t_edit, t_amgan, t_plain, t_flam, t_manip, t_reembed = [], [], [], [], [], []
    for i in range(min(n, len(q.rows))):
        img = Image.fromarray((q.x[i].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
        g = q.groups[i]
        req = {g: schema.group(g).values[q.tgt_labels[i, schema.group_index(g)]]}
        t0 = time.perf_counter()
        res = pipeline.amgan(img, req, k=30)
        t_amgan.append(time.perf_counter() - t0)
        t_edit.append(res.timings["edit"])
        emb_t = time.perf_counter()
        retriever.embed(res.edit.image)
        t_reembed.append(res.timings["edit"] + time.perf_counter() - emb_t)
        t3 = time.perf_counter()
        pipeline.search(img, k=30)
        t_plain.append(time.perf_counter() - t3)
        if retriever.flam is not None:
            t4 = time.perf_counter()
            fr = pipeline.flam(img, req, k=30)
            t_flam.append(time.perf_counter() - t4)
            t_manip.append(fr.timings["manipulate"])
    torch.set_grad_enabled(True)

    def ms(v):
        return round(1000 * float(np.median(v)), 3) if v else None

    out = {"queries": min(n, len(q.rows)), "threads": torch.get_num_threads(),
           "unedited_search_ms": ms(t_plain), "amgan_edit_ms": ms(t_edit), "amgan_edit_and_search_ms": ms(t_amgan),
           "amgan_edit_and_reembed_ms": ms(t_reembed)}
    if t_flam:
        out.update(flam_search_ms=ms(t_flam), flam_manipulate_ms=ms(t_manip),
                   flam_vs_amgan_end_to_end=round(float(np.median(t_flam) / np.median(t_amgan)), 4),
                   flam_manipulate_vs_amgan_edit_and_reembed=round(float(np.median(t_manip) / np.median(t_reembed)), 5))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="fir evaluate", description="retrieval-based evaluation of attribute edits")
    add_config_arguments(p, "configs/eval_synth64.yaml")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_eval_config(args.config, args.set)
    m = evaluate(cfg, args.out, progress=not args.no_progress)
    print(json.dumps({k: {f"top{cfg.max_k}": v["retrieval"].get(f"top{cfg.max_k}")} for k, v in m["methods"].items()}))
    return 0
