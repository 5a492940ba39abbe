"""Figures of the ``fir evaluate`` report: top-k curves, per-group bars, KID, sample sheets.

Every plot has a legend; each method keeps one colour, marker and line style everywhere, and
curves that nearly coincide (AMGAN and its region-specific variant) put their markers at
different k, so neither hides the other. Intervals are the report's bootstrap 95% intervals.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["METHOD_NAMES", "STYLES", "method_label", "plot_curves", "plot_groups", "plot_kid", "sample_grid"]

METHOD_NAMES = {
    "unedited": "Unedited query (floor)",
    "amgan": "AMGAN",
    "amgan_region": "AMGAN region-specific",
    "flam": "FLAM (feature-level)",
    "stargan": "StarGAN-style ablation",
    "truth": "Ground-truth render (ceiling)",
}
# colour, marker, line style, marker offset (markers of near-identical curves at different k)
STYLES = {
    "unedited": ("#7f7f7f", "o", ":", 0),
    "amgan": ("#d62728", "s", "-", 0),
    "amgan_region": ("#ff7f0e", "^", "--", 2),
    "stargan": ("#9467bd", "v", "-.", 1),
    "flam": ("#1f77b4", "P", "-", 3),
    "truth": ("#2ca02c", "*", (0, (6, 2)), 4),
}
EXTRA_STYLE = ("#8c564b", "D", (0, (3, 1, 1, 1)), 1)


def method_label(name: str, metrics: dict | None = None) -> str:
    labels = ((metrics or {}).get("protocol") or {}).get("method_labels") or {}
    return labels.get(name) or METHOD_NAMES.get(name, name)


def _style(name: str) -> dict:
    c, m, ls, off = STYLES.get(name, EXTRA_STYLE)
    return {"color": c, "marker": m, "linestyle": ls, "off": off}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def _yerr(v, ci):
    if ci is None or v is None:
        return [[0], [0]]
    return [[max(0.0, v - ci[0])], [max(0.0, ci[1] - v)]]


def plot_curves(metrics: dict) -> bytes:
    """Rows: views; columns: top-k accuracy (target attribute vector) and exact item in top-k, with
    95% intervals at the headline k values; one legend for all panels, below them."""
    plt = _plt()
    views = list(metrics["views"])
    K = metrics["protocol"]["max_k"]
    hk = metrics["protocol"].get("headline_ks") or metrics["protocol"]["ks"]
    fig, axes = plt.subplots(len(views), 2, figsize=(12.5, 4.0 * len(views) + 0.9), squeeze=False)
    handles = {}
    for row, view in enumerate(views):
        V = metrics["views"][view]
        for col, (key, title) in enumerate((("topk_curve", "top-k accuracy (an item with the target attributes)"),
                                            ("exact_item_curve", "exact item (the target product) in top-k"))):
            ax = axes[row, col]
            for name, m in V["methods"].items():
                r = m["retrieval"]
                curve = np.array(r[key], float)
                ks = np.arange(1, len(curve) + 1)
                st = _style(name)
                (h,) = ax.plot(ks, curve, color=st["color"], linestyle=st["linestyle"], marker=st["marker"], lw=1.8,
                               ms=9 if st["marker"] == "*" else 6.5, markevery=(st["off"], 5), label=method_label(name, metrics), alpha=0.95,
                               markeredgecolor="white", markeredgewidth=0.6)
                handles.setdefault(method_label(name, metrics), h)
                cik = [(k, f"top{k}") for k in hk] if key == "topk_curve" else [(K, f"exact_item@{K}")]
                for k, kname in cik:
                    ci = r["ci95"].get(kname)
                    if ci and k <= len(curve):
                        ax.errorbar([k + (st["off"] - 2) * 0.15], [curve[k - 1]], yerr=_yerr(curve[k - 1], ci),
                                    color=st["color"], capsize=2.5, lw=1, fmt="none")
            ax.set_xlabel("k (retrieved items)")
            ax.set_ylabel("fraction of queries")
            ax.set_ylim(-0.02, 1.04)
            ax.set_xlim(0.3, len(curve) + 0.7)
            ax.grid(alpha=0.3)
            ax.set_title(f"{view} view: {title}", fontsize=10)
    fig.tight_layout(rect=(0, 0.9 / (4.0 * len(views) + 0.9), 1, 1))
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=4, fontsize=9, frameon=False,
               title=f"methods (error bars: bootstrap 95% intervals at k = {', '.join(map(str, hk))})",
               title_fontsize=9)
    return _png(fig)


def plot_groups(metrics: dict, k: int) -> bytes:
    """Top-k accuracy per edited group and method with 95% intervals, one panel per view; groups
    that retrieval cannot judge are shaded and labelled."""
    plt = _plt()
    views = list(metrics["views"])
    fig, axes = plt.subplots(1, len(views), figsize=(6.8 * len(views), 4.6), squeeze=False)
    for ax, view in zip(axes[0], views):
        V = metrics["views"][view]
        names = list(V["methods"])
        groups = list(V["protocol"]["queries_per_group"])
        width = 0.84 / len(names)
        for gi, g in enumerate(groups):
            if not V["groups"][g]["measurable"]:
                ax.axvspan(gi - 0.47, gi + 0.47, color="#dddddd", alpha=0.6, hatch="//", lw=0, zorder=0)
        for j, name in enumerate(names):
            pg = V["methods"][name]["retrieval"]["per_group"]
            vals = [pg.get(g, {}).get(f"top{k}", np.nan) for g in groups]
            err = np.array([_yerr(pg[g][f"top{k}"], pg[g]["ci95"][f"top{k}"]) for g in groups])[:, :, 0].T
            st = _style(name)
            ax.bar(np.arange(len(groups)) + (j - (len(names) - 1) / 2) * width, vals, width, color=st["color"],
                   label=method_label(name, metrics), yerr=err, capsize=1.5, error_kw={"lw": 0.8}, zorder=2,
                   edgecolor="white", linewidth=0.4)
        ax.set_xticks(np.arange(len(groups)), [g if V["groups"][g]["measurable"] else
                                               f"{g}\n(not measurable)" for g in groups])
        ax.set_ylim(0, 1.08)
        ax.set_ylabel(f"top-{k} accuracy")
        ax.set_title(f"{view} view: top-{k} accuracy per edited attribute (95% intervals)\n"
                     f"shaded: not measurable by retrieval here (left out of the means)", fontsize=10)
        ax.grid(axis="y", alpha=0.3, zorder=0)
        ax.legend(fontsize=7.5, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    fig.tight_layout()
    return _png(fig)


def plot_kid(metrics: dict) -> bytes | None:
    """KID per method with its 95% interval, one marker per view."""
    plt = _plt()
    views = [v for v in metrics["views"] if metrics["views"][v].get("kid")]
    if not views:
        return None
    names = list(dict.fromkeys(n for v in views for n in metrics["views"][v]["kid"]["methods"]))
    fig, ax = plt.subplots(figsize=(8.5, 0.55 * len(names) + 1.6))
    marks = ["o", "s", "^", "D"]
    for vi, view in enumerate(views):
        K = metrics["views"][view]["kid"]["methods"]
        ys = np.arange(len(names)) + (vi - (len(views) - 1) / 2) * 0.25
        for y, name in zip(ys, names):
            if name not in K:
                continue
            v, ci = K[name]["kid"], K[name]["ci95"]
            ax.errorbar([v], [y], xerr=[[v - ci[0]], [ci[1] - v]], fmt=marks[vi % 4], color=_style(name)["color"],
                        ms=7, capsize=3, mfc="white" if vi else _style(name)["color"],
                        label=f"{view} view" if name == names[0] else None)
    ax.axvline(0, color="#444444", lw=0.8)
    ax.set_yticks(np.arange(len(names)), [method_label(n, metrics) for n in names])
    ax.invert_yaxis()
    ax.set_xlabel("KID (EfficientNet-Lite0 ImageNet features) to real renders with the target attributes; lower is closer")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", title="marker", title_fontsize=8)
    ax.set_title("realism: KID of each method's images, 95% bootstrap intervals", fontsize=10)
    fig.tight_layout()
    return _png(fig)


# ---------------------------------------------------------------- sample sheet
def _font(size: int):
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        try:
            return ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1
            return ImageFont.load_default()


def _tile(arr: np.ndarray, size: int, border=None) -> Image.Image:
    im = Image.fromarray(arr).convert("RGB").resize((size, size), Image.BILINEAR)
    if border:
        ImageDraw.Draw(im).rectangle([0, 0, size - 1, size - 1], outline=border, width=4)
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


def pick_samples(q, per_group: int, seed: int = 0) -> list[int]:
    """``per_group`` queries of each edited group, each of a different product, spread over the
    requested values (seeded)."""
    rng = np.random.default_rng(seed)
    used_products, picks = set(), []
    for g in dict.fromkeys(q.groups):
        idx = [i for i, gg in enumerate(q.groups) if gg == g]
        rng.shuffle(idx)
        used_values = set()
        chosen = []
        for pass_ in (0, 1):
            for i in idx:
                if len(chosen) >= per_group:
                    break
                prod = Path(q.src_paths[i]).stem.split("_")[0]
                if prod in used_products or i in chosen or (pass_ == 0 and q.rows[i]["value"] in used_values):
                    continue
                chosen.append(i)
                used_products.add(prod)
                used_values.add(q.rows[i]["value"])
        picks += chosen
    return picks


def sample_grid(q, visuals: dict, rankings: dict, gal_paths, gal_labels, per_group: int, schema_values=None,
                metrics: dict | None = None, tile: int = 92, n_ret: int = 4) -> Image.Image | None:
    """One row per query (each a different product and request): input | AMGAN attention | every
    image method's edit | truth | top retrieved for AMGAN and FLAM (green frame: a hit, red: a miss)."""
    if "amgan" not in visuals or per_group == 0:
        return None
    picks = pick_samples(q, per_group)
    edit_methods = [m for m in ("amgan", "amgan_region", *[k for k in visuals if k not in STYLES], "stargan")
                    if m in visuals]
    short = {"amgan": "AMGAN", "amgan_region": "AMGAN\nregion", "stargan": "StarGAN-\nstyle", "flam": "FLAM"}
    for m in edit_methods:
        if m not in short:  # an extra editor: its label up to the first parenthesis, e.g. "AMGAN 128 px"
            words = method_label(m, metrics).split(" (")[0].split(" ", 1)
            short[m] = "\n".join(w[:12] for w in words)
    cols = ["input", "AMGAN\nattention"] + [short.get(m, m) for m in edit_methods] + ["truth"]
    ret_methods = [m for m in ("amgan", "flam") if m in rankings]
    cols_ret = [f"{short[m]}\n#{r + 1}" for m in ret_methods for r in range(n_ret)]
    f_big, f_small, f_head = _font(15), _font(12), _font(13)
    pad, head_h, label_w, gap = 5, 40, 215, 14
    n_img = len(cols)
    W = label_w + (n_img + len(cols_ret)) * (tile + pad) + gap * len(ret_methods) + pad
    H = head_h + len(picks) * (tile + pad) + pad
    canvas = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(canvas)

    def col_x(c):
        extra = 0 if c < n_img else gap * (1 + (c - n_img) // n_ret)
        return label_w + pad + c * (tile + pad) + extra

    for c, h in enumerate(cols + cols_ret):  # one or two lines per column, centred
        lines = h.split("\n")
        for li, line in enumerate(lines):
            y = head_h // 2 + (li - (len(lines) - 1) / 2) * 16
            d.text((col_x(c) + tile // 2, y), line, fill="black", font=f_head, anchor="mm")
    cache: dict[int, np.ndarray] = {}
    v_amgan = visuals["amgan"]
    for r, i in enumerate(picks):
        y0 = head_h + pad + r * (tile + pad)
        if r % 2:
            d.rectangle([0, y0 - 2, W, y0 + tile + 2], fill="#f3f3f3")
        row = q.rows[i]
        g = row["group"]
        src_val = schema_values[g][q.src_labels[i][list(schema_values).index(g)]] if schema_values else "?"
        d.text((8, y0 + 14), f"{g}: {src_val} -> {row['value']}", fill="black", font=f_big)
        d.text((8, y0 + 40), f"{Path(q.src_paths[i]).stem.split('_')[0]} ({q.view})", fill="#444444", font=f_small)
        d.text((8, y0 + 58), row.get("category", ""), fill="#444444", font=f_small)
        x = _to_u8(q.x[i])
        ims = [_tile(x, tile), _tile(_heat(x, _to_u8(v_amgan["a"][i]), (255, 0, 0)), tile)]
        ims += [_tile(_to_u8(visuals[m]["y"][i]), tile) for m in edit_methods]
        ims.append(_tile(_to_u8(q.truth[i]), tile))
        for m in ret_methods:
            for j in rankings[m][i][:n_ret]:
                if j < 0:
                    ims.append(Image.new("RGB", (tile, tile), "#eeeeee"))
                    continue
                if j not in cache:
                    with Image.open(gal_paths[j]) as im:
                        cache[j] = np.asarray(im.convert("RGB"))
                hit = bool(np.all(gal_labels[j] == q.tgt_labels[i]))
                ims.append(_tile(cache[j], tile, border="#2ca02c" if hit else "#d62728"))
        for c, im in enumerate(ims):
            canvas.paste(im, (col_x(c), y0))
    return canvas
