"""Retrieval-based evaluation of attribute edits: ``fir evaluate --config C --out DIR``.

Protocol (DESIGN.md, "Retrieval-based evaluation"; AMGAN/ADDE top-k accuracy), run once per view
of ``data.views`` (``[shop, street]``; an old config's single ``data.view`` still works), each view
with its own tables:

- **Queries**: every ground-truth edit of ``edits.csv`` whose source image is in ``data.split``
  and the view (SynthFashion: one single-attribute edit per manipulable group per test image; the
  street view has one per street photo).
- **Gallery** (the catalogue, the same for every view): the ``shop`` images of the split plus the
  shop render of every ground-truth edit of the split (so each query's target item is in it),
  embedded with the FIR embedder into an exact faiss index. Street queries are consumer-to-shop.
- **Methods**: ``unedited`` (the query as is: the floor), ``amgan`` (the Editor's image-level
  edit, re-embedded), ``amgan_region`` (colour and pattern edits as two region-specific passes,
  sleeves then torso, with the Editor's own sleeve mask), ``stargan`` (the StarGAN-style
  ablation editor), the **extra editor** (``extra_editor``: by default ``amgan128``, the 128-px
  default editor ``checkpoints/amgan_photo128``; see below), ``flam`` (the query's FIR feature
  moved by FLAM, source attributes read by FLAM itself) and ``truth`` (the ground-truth render of
  the edit in the query's view: the ceiling). Methods whose checkpoint is not configured or missing
  are skipped and the report says so.
- **Editors at another resolution** (the extra editor; any editor whose image processor differs
  from the embedder's): the editor reads each query source through its own image processor, from
  ``extra_editor.data_root`` when given (the same products rendered at its size: ``data/synth128``,
  checked against the manifest of ``data.root``) and from ``data.root`` otherwise; its edit is
  brought to the embedder's input through the embedder's :class:`amgan.image.ImageProcessor` (the
  one image path: pad to square, antialiased resample), the same path the gallery images took.
  Every measurement of that method (retrieval, evaluator, SSIM, KID) is made on that image.
- **Top-k retrieval accuracy** (k = 1..``max_k``): a hit is a retrieved item whose full
  attribute vector equals the target vector; a query counts only when the gallery holds such an
  item (:func:`fir.metrics.valid_query_mask`). Also **exact-item** hits (the target product's shop
  render itself retrieved).
- **Intervals**: every headline number has a percentile-bootstrap 95% interval (``bootstrap``
  draws, seed 0; :mod:`amgan.intervals`) that resamples **products** (``bootstrap_unit: product``,
  the default: the four edits of a test product, and both street photos of it, share the product's
  rendering and are not independent, so they are drawn together; ``query``: one by one, narrower
  and optimistic); differences between methods (``differences``, e.g. ``amgan-stargan``) are
  paired bootstraps over the same products. KID's interval resamples images.
- **Groups that can be judged** (:func:`fir.metrics.judge_groups`): a group is measurable by
  retrieval at top-``max_k`` when a perfect edit (the truth) leads doing nothing (the unedited
  query) by at least ``measurable_margin``, by the lower end of the paired 95% interval. Other
  groups are reported, marked "not measurable by retrieval here" with the numbers, and left out of
  the means over measurable groups (the headline).
- **Edit quality** of image methods: an independent evaluator classifier (never used to
  train the GAN) reads the edited attribute (``edit_acc``) and the others
  (``preserve_acc``); L1 and SSIM to the ground-truth render; mean change outside the
  source and target garments; IoU of the attention (a > 0.5) with the pixels the true
  edit changes. LPIPS only when its pretrained AlexNet trunk is on disk (never downloaded).
- **Realism** (:mod:`fir.kid`): KID on EfficientNet-Lite0 ImageNet features between each image
  method's edits and real renders with the target attributes (one per query, from
  ``data.reference_split``, same view: same category and requested value, the most other values in
  common), on ``kid_images`` queries per view, with a paired bootstrap interval.
- **Region-specific edits** (colour requests, region sleeves / torso): change inside
  and outside the true region (SynthFashion region maps) and attention IoU with it.
- **Real photos** (``photos:``, :mod:`fir.evaluate_photo_section`): the reading, retrieval and
  edit probes of the photo test split (by contributor), in their own tables: photos have no
  ground-truth edits, so they are judged by training-free probes and an independent reader.
- **Latency** per query through the public APIs at batch 1 (Editor.edit + Retriever.search
  against Retriever.flam_search), on ``latency_queries`` queries of the first view.

Writes ``metrics.json`` (with a header: commit, date, library versions, hardware, the sha256 of
every model), ``report.md``, ``report.html`` (self-contained: images inlined) and the figures
(see :mod:`fir.report`).
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from amgan.config import ConfigBase, add_config_arguments, build_config, load_dataclass_config
from amgan.errors import UserError
from fir.evaluate_data import Queries, gallery, load_images, load_queries, source_images, to_processor
from fir.evaluate_photo_section import PhotoEvalConfig, photo_section, photo_section_skipped

__all__ = ["EvalConfig", "load_eval_config", "evaluate", "lpips_status", "main", "to_processor"]

log = logging.getLogger(__name__)
VIEWS = ("shop", "street")


@dataclass(frozen=True)
class EvalDataConfig:
    root: str = "data/synth64"  # a SynthFashion folder with edits.csv (amgan data synth --with-edits)
    split: str = "test"
    view: str = "shop"  # the view evaluated when `views` is empty (older configs)
    views: tuple[str, ...] = ()  # views evaluated, each in its own tables, e.g. [shop, street]
    reference_split: str = "train"  # where the KID reference renders come from

    @property
    def all_views(self) -> tuple[str, ...]:
        return tuple(self.views) or (self.view,)


@dataclass(frozen=True)
class ExtraEditorConfig:
    """One more image-level method: an editor at any resolution (e.g. the 128-px default editor)."""

    name: str = "amgan128"  # the method's key in metrics.json and the report
    path: str = ""  # "" or a missing folder: the method is skipped
    data_root: str = ""  # the same data set rendered at the editor's size ("": data.root, resampled)
    label: str = "AMGAN 128 px (amgan_photo128)"


@dataclass(frozen=True)
class EvalConfig(ConfigBase):
    data: EvalDataConfig = field(default_factory=EvalDataConfig)
    editor: str = "checkpoints/amgan_synth64"
    ablation_editor: str = ""  # StarGAN-style ablation editor; "" or a missing file: method skipped
    extra_editor: ExtraEditorConfig = field(default_factory=ExtraEditorConfig)
    embedder: str = "checkpoints/fir_synth64"
    flam: str = ""  # "" : FLAM skipped
    evaluator: str = "checkpoints/evaluator_synth64"
    region: bool = True  # the amgan_region method and the region-fidelity table
    max_k: int = 30
    ks: tuple[int, ...] = (1, 5, 10, 20, 30)
    headline_ks: tuple[int, ...] = (1, 10, 30)  # the tables' columns (those in ks)
    bootstrap: int = 1000  # bootstrap draws of every interval
    bootstrap_unit: str = "product"  # what the bootstrap resamples: product (a product's edits together) or query
    measurable_margin: float = 0.10  # a group is judged when truth - unedited top-max_k >= this (95% lower end)
    differences: tuple[str, ...] = ("amgan-unedited", "amgan-stargan", "amgan-flam", "amgan128-amgan")
    kid_images: int = 1000  # queries per view for KID (0: no KID)
    kid_size: int = 128  # px the KID feature network sees
    batch_size: int = 64
    limit: int = 0  # first N queries of each view only (0: all)
    samples_per_group: int = 3  # rows of each view's sample figure per group (each a different product)
    latency_queries: int = 20
    lpips: str = "auto"  # auto: when the AlexNet trunk is cached; off
    photos: PhotoEvalConfig = field(default_factory=PhotoEvalConfig)  # the real-photo section (root "": skipped)
    int8: bool = False  # the editors' generators in int8 where their folders have int8.pt (amgan quantize); else float

    def validate(self) -> "EvalConfig":
        from amgan.config import ConfigError

        checks = [
            (self.data.split in ("train", "val", "test"), "data.split must be train, val or test"),
            (self.data.reference_split in ("train", "val", "test"), "data.reference_split must be train, val or test"),
            (all(v in VIEWS for v in self.data.all_views) and len(set(self.data.all_views)) == len(self.data.all_views),
             f"data.views must be distinct views among {list(VIEWS)}"),
            (self.max_k >= 1, "max_k must be >= 1"),
            (len(self.ks) > 0 and all(1 <= k <= self.max_k for k in self.ks), "ks must be in 1..max_k"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.bootstrap >= 100, "bootstrap must be >= 100 draws"),
            (self.bootstrap_unit in ("product", "query"), "bootstrap_unit must be 'product' or 'query'"),
            (0 <= self.measurable_margin < 1, "measurable_margin must be in [0, 1)"),
            (all(len(d.split("-")) == 2 and all(d.split("-")) for d in self.differences),
             "differences must be 'a-b' method pairs, e.g. amgan-stargan"),
            (self.kid_images >= 0 and self.kid_size % 32 == 0 and self.kid_size >= 32,
             "kid_images must be >= 0 and kid_size a multiple of 32"),
            (self.limit >= 0 and self.samples_per_group >= 0 and self.latency_queries >= 0,
             "limit, samples_per_group and latency_queries must be >= 0"),
            (self.lpips in ("auto", "off"), "lpips must be 'auto' or 'off'"),
            (bool(self.editor) and bool(self.embedder) and bool(self.evaluator),
             "editor, embedder and evaluator must name checkpoints"),
            (self.extra_editor.name not in ("unedited", "amgan", "amgan_region", "stargan", "flam", "truth"),
             "extra_editor.name must differ from the built-in methods"),
        ] + self.photos.check()
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


# ---------------------------------------------------------------- methods
@torch.no_grad()
def _edit_images(editor, q: Queries, x_src: torch.Tensor, proc_q, batch_size: int, region: bool, progress: bool,
                 desc: str):
    """-> (edited [Q,3,S,S], attention [Q,1,S,S]) at the queries' size S (no CAM: nothing here shows it,
    and it costs a classifier pass).

    Every edit goes through :meth:`amgan.editor.Editor.edit_batch`, the path users call; the
    region-specific method is its ``"sleeves+torso"`` mode for colour and pattern edits. An editor
    at another size edits ``x_src`` and its result goes through ``proc_q`` (:func:`to_processor`).
    """
    schema = editor.schema
    Q, S = len(q.rows), q.x.shape[-1]
    y_all, a_all = torch.zeros_like(q.x), torch.zeros_like(q.x[:, :1])
    tgt = torch.from_numpy(q.tgt_labels)
    for gname in dict.fromkeys(q.groups):
        gi = schema.group_index(gname)
        idx_g = [i for i in range(Q) if q.groups[i] == gname]
        mode = "sleeves+torso" if region and gname in ("color", "pattern") else None
        for s in tqdm(range(0, len(idx_g), batch_size), desc=f"{desc} {q.view} {gname}", disable=not progress):
            idx = torch.tensor(idx_g[s:s + batch_size])
            out = editor.edit_batch(x_src[idx], {gname: tgt[idx, gi]}, region=mode, cam=False)
            y, a = out.y.float().cpu(), out.a.float().cpu()
            if y.shape[-1] != S:
                y = to_processor(y, proc_q)
                a = F.interpolate(a, size=(S, S), mode="area")
            y_all[idx], a_all[idx] = y, a
    return y_all, a_all


@torch.no_grad()
def _region_fidelity(editor, q: Queries, batch_size: int, progress: bool) -> dict:
    """Colour edits kept to the sleeves or the torso: change inside/outside the true region."""
    from amgan.data.synth import REGIONS
    from fir.metrics import iou

    schema = editor.schema
    idx_c = [i for i, g in enumerate(q.groups) if g == "color"]
    if not idx_c or "sleeve" not in schema.names or editor.size != q.x.shape[-1]:
        return {}
    true = {"sleeves": q.src_regions == REGIONS["sleeves"],
            "torso": np.isin(q.src_regions, [REGIONS["torso"], REGIONS["neckline"], REGIONS["skirt"]])}
    out = {}
    gi = schema.group_index("color")
    tgt = torch.from_numpy(q.tgt_labels)
    for region in ("sleeves", "torso"):
        inside, outside, ious, n_in, n_out = [], [], [], 0, 0
        for s in tqdm(range(0, len(idx_c), batch_size), desc=f"region {q.view} {region}", disable=not progress):
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
                  lpips_fn=None) -> tuple[dict, dict]:
    """-> (summary, per-query arrays {"edit_ok" [Q] bool, "preserve" [Q] fraction of the other groups kept})."""
    from fir.metrics import attribute_accuracy, iou, masked_mean_abs_diff, ssim

    with torch.no_grad():
        pred = np.concatenate([torch.stack([lg.argmax(1) for lg in evaluator(y[s:s + batch_size])], 1).numpy()
                               for s in range(0, len(y), batch_size)])
    edited = q.tgt_labels != q.src_labels
    acc = attribute_accuracy(pred, q.tgt_labels, edited)
    correct = pred == q.tgt_labels
    per_query = {"edit_ok": (correct & edited).sum(1) == edited.sum(1),
                 "preserve": (correct & ~edited).sum(1) / np.maximum((~edited).sum(1), 1)}
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
    return res, per_query


def _retrieval(index, emb: np.ndarray, q: Queries, gal_labels, gal_pids, max_k: int, ks) -> tuple[dict, dict]:
    """-> (summary, per-query {"rank", "exact_rank" [Q] (first hit, K+1: none), "valid" [Q], "rows" [Q,K]})."""
    from fir.metrics import first_hit_rank, hits_curve, valid_query_mask

    k = min(max_k, index.count)
    _, ids = index.search(emb, k)
    pos = {int(i): j for j, i in enumerate(index.ids)}
    rows = np.array([[pos.get(int(i), -1) for i in r] for r in ids])
    ret_labels = np.where(rows[..., None] >= 0, gal_labels[np.maximum(rows, 0)], -1)
    valid = valid_query_mask(gal_labels, q.tgt_labels)
    hits = np.all(ret_labels == q.tgt_labels[:, None, :], axis=2)
    pid_pos = {p: j for j, p in enumerate(gal_pids)}
    want = np.array([pid_pos.get(p, -2) for p in q.tgt_products])
    exact_hits = (rows == want[:, None]) & (rows >= 0)
    curve, exact = hits_curve(hits, valid), hits_curve(exact_hits, valid)
    res = {"topk_curve": [round(float(v), 4) for v in curve],
           "exact_item_curve": [round(float(v), 4) for v in exact],
           **{f"top{kk}": round(float(curve[min(kk, k) - 1]), 4) for kk in ks},
           "exact_item@%d" % max_k: round(float(exact[k - 1]), 4),
           "valid_queries": int(valid.sum()), "per_group": {}}
    for g in dict.fromkeys(q.groups):
        sel = np.array([gg == g for gg in q.groups])
        c = hits_curve(hits[sel], valid[sel])
        res["per_group"][g] = {f"top{kk}": round(float(c[min(kk, k) - 1]), 4) for kk in ks}
    return res, {"rank": first_hit_rank(hits), "exact_rank": first_hit_rank(exact_hits), "valid": valid, "rows": rows}


# ---------------------------------------------------------------- main entry
def _command(config_path, overrides, out) -> str:
    parts = ["fir", "evaluate", "--config", str(config_path), "--out", str(out)]
    for s in overrides or []:
        parts += ["--set", s]
    return shlex.join(parts)


def evaluate(cfg: EvalConfig, out: str | Path, progress: bool = True, command: str | None = None) -> dict:
    from amgan.editor import Editor
    from amgan.io import atomic_write_text
    from amgan.pretrained import load_classifier, load_pretrained, model_id
    from fir.flam import load_flam
    from fir.index import GalleryIndex
    from fir.kid import KidFeatures
    from fir.evaluate_stats import add_intervals, clusters_of, differences, kid_for_view
    from fir.metrics import judge_groups
    from fir.model import embed_images, load_embedder
    from fir.pipeline import EditAndSearch
    from fir.report import write_report
    from fir.retriever import Retriever
    from fir.run_info import git_commit, run_header

    t_all = time.perf_counter()
    code = git_commit()  # the code this run runs: taken now, the tree may change before the header is written
    out = Path(out)
    root = Path(cfg.data.root)
    i8 = None if cfg.int8 else False  # int8 where a model folder has it, or float throughout
    for name in ("editor", "embedder", "evaluator"):
        if not Path(getattr(cfg, name)).exists():
            raise UserError(f"{name} model not found: {getattr(cfg, name)}")
    editor = Editor.from_checkpoint(cfg.editor, device="cpu", int8=i8)
    schema = editor.schema
    evaluator, ev_p = load_classifier(cfg.evaluator)
    ed_cls = load_pretrained(cfg.editor, kind="classifier").weights["classifier"]
    ev_sd = ev_p.weights["classifier"]
    if ed_cls.keys() == ev_sd.keys() and all(torch.equal(ed_cls[k].float(), ev_sd[k].float()) for k in ev_sd):
        raise UserError(f"the evaluator {cfg.evaluator} is the classifier that trained the GAN; "
                        f"train an independent one (amgan train-classifier --seed 1 --out ...)")
    del ed_cls
    net, emb_p = load_embedder(cfg.embedder)
    proc_q = emb_p.image_processor
    embedder_id = model_id(cfg.embedder)
    methods_skipped = {}
    flam = None
    if cfg.flam and Path(cfg.flam).exists():
        flam = load_flam(cfg.flam, expect_embedder_id=embedder_id)
    else:
        methods_skipped["flam"] = f"no FLAM checkpoint ({cfg.flam or 'flam not set'})"
    editors = [("amgan", editor, False, "")]
    if cfg.region:
        editors.append(("amgan_region", editor, True, ""))
    if cfg.ablation_editor and Path(cfg.ablation_editor).exists():
        editors.append(("stargan", Editor.from_checkpoint(cfg.ablation_editor, device="cpu", int8=i8), False, ""))
    else:
        methods_skipped["stargan"] = f"no ablation editor checkpoint ({cfg.ablation_editor or 'not set'})"
    X = cfg.extra_editor
    if X.path and Path(X.path).exists():
        extra = Editor.from_checkpoint(X.path, device="cpu", int8=i8)
        if extra.schema.names != schema.names:
            raise UserError(f"extra_editor {X.path} edits groups {list(extra.schema.names)}, the editor "
                            f"{list(schema.names)}")
        editors.append((X.name, extra, False, X.data_root))
    else:
        methods_skipped[X.name] = f"no extra editor checkpoint ({X.path or 'extra_editor.path not set'})"
    lp_ok, lp_why = lpips_status() if cfg.lpips == "auto" else (False, "lpips: off in the config")
    lpips_fn = None
    if lp_ok:
        import lpips

        lpips_fn = lpips.LPIPS(net="alex", verbose=False).eval()

    gal_paths, gal_labels, gal_meta = gallery(root, cfg.data.split, schema)
    gal_pids = [m["product_id"] for m in gal_meta]
    gal_imgs = (load_images(gal_paths, proc_q, "load gallery", progress) * 255).round().to(torch.uint8)
    gal_emb = embed_images(net, gal_imgs.contiguous(), 128, progress=progress, desc="embed gallery")
    index = GalleryIndex.build(gal_emb, gal_meta, model_id=embedder_id, kind="flat")

    def embed(x):
        return embed_images(net, (x * 255 + 0.5).clamp(0, 255).to(torch.uint8), 128, progress=False)

    kid_feats = KidFeatures(cfg.kid_size, cfg.batch_size) if cfg.kid_images else None
    pairs = [tuple(d.split("-")) for d in cfg.differences]
    views: dict[str, dict] = {}
    figures: dict[str, dict] = {}
    timings: dict[str, float] = {}
    latency = {}
    for view in cfg.data.all_views:
        q = load_queries(root, cfg.data.split, view, proc_q, schema, cfg.limit, progress)
        methods: dict[str, dict] = {}
        per_query: dict[str, dict] = {}
        images: dict[str, torch.Tensor] = {}
        visuals: dict[str, dict] = {}

        def add(name, emb, y=None, a=None):
            r, pq = _retrieval(index, emb, q, gal_labels, gal_pids, cfg.max_k, cfg.ks)
            methods[name] = {"retrieval": r}
            per_query[name] = pq
            if y is not None:
                methods[name]["edit_quality"], pq_e = _edit_quality(evaluator, q, y, a, schema, cfg.batch_size, lpips_fn)
                pq.update(pq_e)
                images[name] = y
                visuals[name] = {"y": y, "a": a}

        t = time.perf_counter()
        add("unedited", embed(q.x), q.x)
        timings[f"{view}/unedited"] = time.perf_counter() - t
        for name, ed, region, alt_root in editors:
            t = time.perf_counter()
            x_src = source_images(ed, q, root, alt_root, proc_q, progress)
            y, a = _edit_images(ed, q, x_src, proc_q, cfg.batch_size, region, progress, name)
            del x_src
            add(name, embed(y), y, a)
            timings[f"{view}/{name}"] = time.perf_counter() - t
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
            timings[f"{view}/flam"] = time.perf_counter() - t
        t = time.perf_counter()
        add("truth", embed(q.truth), q.truth)
        timings[f"{view}/truth"] = time.perf_counter() - t
        # the unedited query is scored by the evaluator too: the floor of edit accuracy (it reads the
        # source's value) and of SSIM/L1 to the truth

        K = cfg.max_k
        judged = judge_groups(q.groups, per_query["unedited"]["rank"] <= K, per_query["truth"]["rank"] <= K,
                              per_query["unedited"]["valid"], cfg.measurable_margin, cfg.bootstrap,
                              clusters=clusters_of(q, cfg))
        add_intervals(methods, per_query, q, cfg, judged)
        diffs = differences(pairs + [(n, "unedited") for n in methods if n not in ("unedited", "truth")],
                             per_query, q, cfg, judged)
        t = time.perf_counter()
        kid = kid_for_view(cfg, q, images, schema, kid_feats, proc_q, progress) if kid_feats is not None else {}
        timings[f"{view}/kid"] = time.perf_counter() - t
        t = time.perf_counter()
        region = _region_fidelity(editor, q, cfg.batch_size, progress) if cfg.region else {}
        timings[f"{view}/region"] = time.perf_counter() - t
        views[view] = {
            "protocol": {"queries": len(q.rows), "view": view,
                         "queries_per_group": {g: q.groups.count(g) for g in dict.fromkeys(q.groups)}},
            "groups": judged, "methods": methods, "differences": diffs, "kid": kid, "region_specific": region}
        figures[view] = {"q": q, "visuals": visuals, "rankings": {k: v["rows"] for k, v in per_query.items()},
                         "schema_values": {g.name: list(g.values) for g in schema.groups}}
        if not latency:
            pipeline = EditAndSearch(editor, Retriever(net, index, emb_p.image_processor, flam=flam,
                                                       model_id=embedder_id))
            latency = _latency(pipeline, q, cfg.latency_queries, schema)
        del images

    photos, photo_samples = {"skipped": photo_section_skipped(cfg.photos)}, []
    if photos["skipped"] is None:
        t = time.perf_counter()
        photos, photo_samples = photo_section(cfg.photos, progress, int8=cfg.int8)
        timings["photos"] = time.perf_counter() - t
    models = {"editor": cfg.editor, "ablation_editor": cfg.ablation_editor, f"extra_editor ({X.name})": X.path,
              "embedder": cfg.embedder, "flam": cfg.flam, "evaluator": cfg.evaluator}
    if "skipped" not in photos:
        Ph = cfg.photos
        models.update({"photos.reader": Ph.reader, "photos.evaluator": Ph.evaluator, "photos.embedder": Ph.embedder,
                       "photos.flam": Ph.flam, "photos.editor": Ph.editor})
    header = run_header(models, code)
    first = views[cfg.data.all_views[0]]
    metrics = {
        "header": header,
        "command": command or _command("CONFIG", [], out),
        "protocol": {"gallery": int(index.count),
                     "gallery_catalogue": sum(m["source"] == "catalogue" for m in gal_meta),
                     "gallery_edit_truths": sum(m["source"] == "edit-truth" for m in gal_meta),
                     "split": cfg.data.split, "views": list(cfg.data.all_views), "max_k": cfg.max_k,
                     "ks": list(cfg.ks), "headline_ks": [k for k in cfg.headline_ks if k in cfg.ks] or list(cfg.ks),
                     "bootstrap": cfg.bootstrap, "bootstrap_unit": cfg.bootstrap_unit,
                     "measurable_margin": cfg.measurable_margin,
                     "method_labels": {X.name: X.label}},
        "views": views,
        "photos": photos,
        # the first view's results, where older readers of metrics.json look for them
        "methods": first["methods"], "region_specific": first["region_specific"],
        "checkpoints": header["models"], "methods_skipped": methods_skipped, "latency": latency,
        "method_seconds_total": {k: round(v, 2) for k, v in timings.items()},
        "lpips": {"available": lp_ok, "why": lp_why},
        "evaluator_test_accuracy": (ev_p.info.get("metrics") or {}).get("test_accuracy"),
        "config": cfg.to_dict(), "seconds": round(time.perf_counter() - t_all, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_report(out, metrics, figures, gal_paths, gal_labels, cfg.samples_per_group, photo_samples)
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

    out = {"queries": min(n, len(q.rows)), "view": q.view, "threads": torch.get_num_threads(),
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
    m = evaluate(cfg, args.out, progress=not args.no_progress, command=_command(args.config, args.set, args.out))
    K = cfg.max_k
    print(json.dumps({view: {k: {f"top{K}": v["retrieval"].get(f"top{K}"), "ci95": v["retrieval"]["ci95"][f"top{K}"]}
                             for k, v in vm["methods"].items()} for view, vm in m["views"].items()}))
    return 0
