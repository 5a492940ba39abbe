"""Report writer for ``fir evaluate``: plots (matplotlib), sample grids (PIL), Markdown and HTML.

``report.md`` links the PNGs next to it; ``report.html`` is self-contained (the PNGs are
inlined as base64 data URIs), so it can be mailed or attached as one file. Both are
rendered from the same list of blocks, so they always say the same thing.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from amgan.io import atomic_save_image, atomic_write_bytes, atomic_write_text

__all__ = ["write_report", "METHOD_NAMES"]

METHOD_NAMES = {
    "unedited": "Unedited query (floor)",
    "amgan": "AMGAN",
    "amgan_region": "AMGAN region-specific",
    "flam": "FLAM (feature-level)",
    "stargan": "StarGAN-style ablation",
    "truth": "Ground-truth render (ceiling)",
}
COLORS = {"unedited": "#888888", "amgan": "#d62728", "amgan_region": "#ff7f0e", "flam": "#1f77b4",
          "stargan": "#9467bd", "truth": "#2ca02c"}


def _fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def plot_curves(metrics: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, m in metrics["methods"].items():
        r = m["retrieval"]
        ks = np.arange(1, len(r["topk_curve"]) + 1)
        style = dict(color=COLORS.get(name), label=METHOD_NAMES.get(name, name), lw=2)
        axes[0].plot(ks, r["topk_curve"], **style)
        axes[1].plot(ks, r["exact_item_curve"], **style)
    for ax, title in zip(axes, ("top-k retrieval accuracy (target attribute vector)", "exact item (the true edit) in top-k")):
        ax.set_xlabel("k")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("fraction of queries")
    axes[1].legend(loc="lower right", fontsize=8)
    data = _fig_png(fig)
    plt.close(fig)
    return data


def plot_groups(metrics: dict, k: int) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(metrics["methods"])
    groups = list(metrics["protocol"]["queries_per_group"])
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups) + 2), 4))
    for j, name in enumerate(names):
        vals = [metrics["methods"][name]["retrieval"]["per_group"].get(g, {}).get(f"top{k}", np.nan) for g in groups]
        ax.bar(np.arange(len(groups)) + (j - (len(names) - 1) / 2) * width, vals, width,
               color=COLORS.get(name), label=METHOD_NAMES.get(name, name))
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"top-{k} retrieval accuracy")
    ax.set_title(f"top-{k} retrieval accuracy per edited attribute", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=3, loc="lower center", bbox_to_anchor=(0.5, -0.35))
    data = _fig_png(fig)
    plt.close(fig)
    return data


def _tile(arr: np.ndarray, size: int, border=None) -> Image.Image:
    im = Image.fromarray(arr).convert("RGB").resize((size, size), Image.BILINEAR)
    if border:
        d = ImageDraw.Draw(im)
        d.rectangle([0, 0, size - 1, size - 1], outline=border, width=3)
    return im


def _to_u8(t) -> np.ndarray:
    a = t.detach().float().cpu().clamp(0, 1).numpy()
    a = a.transpose(1, 2, 0) if a.ndim == 3 else a
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    return (a * 255 + 0.5).astype(np.uint8)


def _heat(x_u8: np.ndarray, m_u8: np.ndarray, color) -> np.ndarray:
    m = m_u8.astype(np.float32)[..., None] / 255
    return (x_u8 * (1 - 0.6 * m) + np.array(color, np.float32) * 0.6 * m).astype(np.uint8)


def sample_grid(q, visuals: dict, rankings: dict, gal_paths, gal_labels, per_group: int, tile: int = 96) -> Image.Image | None:
    """Rows: input | attention | CAM | AMGAN edit | truth | AMGAN top-5 | FLAM top-5 (hits framed green)."""
    if "amgan" not in visuals or per_group == 0:
        return None
    v = visuals["amgan"]
    picks = []
    for g in dict.fromkeys(q.groups):
        picks += [i for i, gg in enumerate(q.groups) if gg == g][:per_group]
    ret_methods = [m for m in ("amgan", "flam") if m in rankings]
    header = ["input", "attention", "CAM", "AMGAN edit", "truth"] + [f"{'AMGAN' if m == 'amgan' else 'FLAM'} #{r + 1}"
                                                                    for m in ret_methods for r in range(5)]
    pad, head_h, label_w = 4, 18, 150
    cols = len(header)
    W = label_w + cols * (tile + pad) + pad
    H = head_h + len(picks) * (tile + pad) + pad
    canvas = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(canvas)
    for c, h in enumerate(header):
        d.text((label_w + pad + c * (tile + pad), 3), h, fill="black")
    cache: dict[int, np.ndarray] = {}
    for r, i in enumerate(picks):
        y0 = head_h + pad + r * (tile + pad)
        req = q.rows[i]
        d.text((4, y0 + tile // 2 - 12), f"{req['group']} -> {req['value']}", fill="black")
        d.text((4, y0 + tile // 2 + 2), Path(q.src_paths[i]).stem[:22], fill="#555555")
        x = _to_u8(q.x[i])
        tiles = [x, _heat(x, _to_u8(v["a"][i]), (255, 0, 0)), _heat(x, _to_u8(v["cam"][i]), (255, 200, 0)),
                 _to_u8(v["y"][i]), _to_u8(q.truth[i])]
        ims = [_tile(t, tile) for t in tiles]
        for m in ret_methods:
            for j in rankings[m][i][:5]:
                if j < 0:
                    ims.append(Image.new("RGB", (tile, tile), "#eeeeee"))
                    continue
                if j not in cache:
                    with Image.open(gal_paths[j]) as im:
                        cache[j] = np.asarray(im.convert("RGB"))
                hit = bool(np.all(gal_labels[j] == q.tgt_labels[i]))
                ims.append(_tile(cache[j], tile, border="#2ca02c" if hit else "#d62728"))
        for c, im in enumerate(ims):
            canvas.paste(im, (label_w + pad + c * (tile + pad), y0))
    return canvas


# ---------------------------------------------------------------- markdown / html
def _fmt(v, digits=3):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _blocks(metrics: dict, images: dict[str, str]) -> list[tuple]:
    P = metrics["protocol"]
    M = metrics["methods"]
    K = P["max_k"]
    ks = P["ks"]
    b: list[tuple] = [("h1", "Retrieval-based evaluation of attribute edits")]
    b.append(("p", f"{P['queries']} queries (single-attribute edits of the {P['split']} split, {P['view']} view: "
                   + ", ".join(f"{g} {n}" for g, n in P["queries_per_group"].items())
                   + f") against a gallery of {P['gallery']} items ({P['gallery_catalogue']} catalogue images + "
                   f"{P['gallery_edit_truths']} ground-truth edit renders). A query is a hit at k when one of its "
                   f"top-k items has the full target attribute vector (AMGAN/ADDE protocol); "
                   f"{next(iter(M.values()))['retrieval']['valid_queries']} queries have such an item in the gallery "
                   f"and count."))
    b.append(("h2", "Retrieval"))
    rows = [[METHOD_NAMES.get(n, n)] + [_fmt(m["retrieval"][f"top{k}"]) for k in ks]
            + [_fmt(m["retrieval"][f"exact_item@{K}"])] for n, m in M.items()]
    b.append(("table", ["method"] + [f"top-{k}" for k in ks] + [f"exact item @{K}"], rows))
    if "flam" in M and "strength" in M["flam"]:
        b.append(("p", f"FLAM edits the query's feature with its calibrated edit strength {M['flam']['strength']:g} "
                       f"(chosen by `fir train-flam` on the validation split); the source attributes are FLAM's own "
                       f"reading of the query, right for {M['flam'].get('source_attribute_accuracy', float('nan')):.1%} "
                       f"of the attribute values."))
    if metrics["methods_skipped"]:
        b.append(("p", "Not run: " + "; ".join(f"{METHOD_NAMES.get(k, k)}: {v}" for k, v in metrics["methods_skipped"].items())))
    b.append(("img", "topk_curves.png", images.get("topk_curves.png")))
    groups = list(P["queries_per_group"])
    kk = max(ks)
    rows = [[METHOD_NAMES.get(n, n)] + [_fmt(m["retrieval"]["per_group"].get(g, {}).get(f"top{kk}")) for g in groups]
            for n, m in M.items()]
    b.append(("h3", f"Top-{kk} accuracy per edited attribute"))
    b.append(("table", ["method"] + groups, rows))
    b.append(("img", "per_group_top30.png", images.get("per_group_top30.png")))
    b.append(("h2", "Edit quality (image-level methods)"))
    b.append(("p", "edit acc: the independent evaluator classifier reads the requested value; preserve: it reads "
                   "every other attribute unchanged; outside change: mean |edit - input| outside the source and "
                   "target garments (images in [0, 1]); attention IoU: attention > 0.5 against the pixels the true "
                   "edit changes. " + ("LPIPS: " + metrics["lpips"]["why"] + "." if not metrics["lpips"]["available"] else "")))
    cols = ["edit_acc", "preserve_acc", "ssim_to_truth", "l1_to_truth", "outside_change", "attention_iou"]
    if metrics["lpips"]["available"]:
        cols.append("lpips_to_truth")
    rows = [[METHOD_NAMES.get(n, n)] + [_fmt(m["edit_quality"].get(c), 4) for c in cols]
            for n, m in M.items() if "edit_quality" in m]
    b.append(("table", ["method"] + [c.replace("_", " ") for c in cols], rows))
    rows = [[METHOD_NAMES.get(n, n)] + [_fmt(m["edit_quality"]["per_group"].get(g, {}).get("edit_acc")) for g in groups]
            for n, m in M.items() if "edit_quality" in m]
    b.append(("h3", "Evaluator accuracy of the edited attribute, per group"))
    b.append(("table", ["method"] + groups, rows))
    if metrics.get("region_specific"):
        b.append(("h2", "Region-specific colour edits"))
        b.append(("p", "Colour requests kept to the sleeves or to the torso (the Editor's sleeve mask: the attention "
                       "of a 'sleeveless' edit thresholded at 0.9). Change inside / outside the true region of the "
                       "SynthFashion region map; IoU of the kept attention (> 0.5) with that region (images with "
                       "the region only). No catalogue item has two colours, so these edits are not scored by retrieval."))
        rows = [[r, str(v["n"]), _fmt(v["change_inside"], 4), _fmt(v["change_outside"], 4), _fmt(v["attention_iou"]),
                 str(v["n_with_region"])] for r, v in metrics["region_specific"].items()]
        b.append(("table", ["region", "edits", "change inside", "change outside", "attention IoU", "images with region"], rows))
    L = metrics.get("latency") or {}
    if L:
        b.append(("h2", "Latency per query (batch 1, median, CPU)"))
        rows = [["unedited: embed + search", _fmt(L["unedited_search_ms"], 2)],
                ["AMGAN: Editor.edit", _fmt(L["amgan_edit_ms"], 2)],
                ["AMGAN: edit + re-embed", _fmt(L["amgan_edit_and_reembed_ms"], 2)],
                ["AMGAN: edit + embed + search", _fmt(L["amgan_edit_and_search_ms"], 2)]]
        if "flam_search_ms" in L:
            rows += [["FLAM: read the attributes + manipulate the feature", _fmt(L["flam_manipulate_ms"], 3)],
                     ["FLAM: embed + manipulate + search", _fmt(L["flam_search_ms"], 2)]]
        b.append(("table", ["step", "ms"], rows))
        if "flam_search_ms" in L:
            b.append(("p", f"FLAM's manipulation costs {L['flam_manipulate_vs_amgan_edit_and_reembed']:.4f} of AMGAN's "
                           f"edit + re-embed; end to end (both embed the query image once) FLAM takes "
                           f"{L['flam_vs_amgan_end_to_end']:.3f} of AMGAN's time. {L['queries']} queries, "
                           f"{L['threads']} torch threads."))
    b.append(("h2", "Samples"))
    b.append(("p", "Per row: the input, AMGAN's attention (red) and the CAM of the edited attribute (yellow) over "
                   "it, AMGAN's edit, the ground-truth render, then the top-5 retrieved for the AMGAN query and for "
                   "FLAM; a green frame is a hit (the target attribute vector), red a miss."))
    b.append(("img", "samples.png", images.get("samples.png")))
    b.append(("h2", "Checkpoints"))
    b.append(("table", ["role", "path", "sha256"], [[k, v["path"], v["sha256"][:16]] for k, v in metrics["checkpoints"].items()]))
    b.append(("p", f"Evaluation wall time {metrics['seconds']} s."))
    return b


def _md(blocks) -> str:
    out = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + rest[0] + "\n")
        elif kind == "p":
            out.append(rest[0] + "\n")
        elif kind == "table":
            head, rows = rest
            out.append("| " + " | ".join(head) + " |\n| " + " | ".join("---" for _ in head) + " |")
            out += ["| " + " | ".join(r) + " |" for r in rows]
            out.append("")
        elif kind == "img" and rest[1] is not None:
            out.append(f"![{rest[0]}]({rest[0]})\n")
    return "\n".join(out) + "\n"


def _html(blocks) -> str:
    e = html.escape
    body = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{e(rest[0])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{e(rest[0])}</p>")
        elif kind == "table":
            head, rows = rest
            body.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"
                        + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows) + "</table>")
        elif kind == "img" and rest[1] is not None:
            body.append(f'<img alt="{e(rest[0])}" src="data:image/png;base64,{rest[1]}">')
    style = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 8px;"
             "text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Retrieval-based evaluation</title>"
            f"<style>{style}</style></head><body>" + "\n".join(body) + "</body></html>\n")


def write_report(out: Path, metrics: dict, q, visuals, rankings, gal_paths, gal_labels, samples_per_group: int) -> None:
    out = Path(out)
    files: dict[str, bytes] = {"topk_curves.png": plot_curves(metrics),
                               "per_group_top30.png": plot_groups(metrics, max(metrics["protocol"]["ks"]))}
    grid = sample_grid(q, visuals, rankings, gal_paths, gal_labels, samples_per_group)
    if grid is not None:
        atomic_save_image(out / "samples.png", grid)
        files["samples.png"] = (out / "samples.png").read_bytes()
    for name, data in files.items():
        if name != "samples.png":
            atomic_write_bytes(out / name, data)
    b64 = {k: base64.b64encode(v).decode() for k, v in files.items()}
    blocks = _blocks(metrics, b64)
    atomic_write_text(out / "report.md", _md(blocks))
    atomic_write_text(out / "report.html", _html(blocks))
