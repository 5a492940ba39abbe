"""Report writer for ``fir evaluate``: Markdown and HTML from one list of blocks, figures from
:mod:`fir.report_figures`.

``report.md`` links the PNGs next to it; ``report.html`` is self-contained (the PNGs are
inlined as base64 data URIs), so it can be mailed or attached as one file. Both are
rendered from the same list of blocks, so they always say the same thing. Numbers with an
interval read ``0.925 [0.90, 0.95]`` (value, bootstrap 95% interval).
"""
from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np

from amgan.io import atomic_save_image, atomic_write_bytes, atomic_write_text
from fir.report_figures import METHOD_NAMES, method_label, plot_curves, plot_groups, plot_kid, sample_grid

__all__ = ["write_report", "METHOD_NAMES", "fmt_ci", "fmt_diff"]

NOT_MEASURABLE = "not measurable by retrieval here"


def _fmt(v, digits=3):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def fmt_ci(v, ci, digits: int = 3, ci_digits: int = 2) -> str:
    """``0.925 [0.90, 0.95]``; "n/a" without a value."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    if not ci:
        return f"{v:.{digits}f}"
    return f"{v:.{digits}f} [{ci[0]:.{ci_digits}f}, {ci[1]:.{ci_digits}f}]"


def fmt_diff(d: dict | None, digits: int = 3, ci_digits: int = 2) -> str:
    """A paired difference ``+0.145 [+0.11, +0.18]``, starred when the interval excludes 0."""
    if not d or d.get("diff") is None:
        return "n/a"
    lo, hi = d["ci95"]
    star = " *" if lo > 0 or hi < 0 else ""
    return f"{d['diff']:+.{digits}f} [{lo:+.{ci_digits}f}, {hi:+.{ci_digits}f}]{star}"


def _kid_fmt(v, ci) -> str:
    return f"{v:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]"


def _header_blocks(metrics: dict) -> list[tuple]:
    H = metrics.get("header") or {}
    b: list[tuple] = []
    if not H:
        return b
    v, hw = H["versions"], H["hardware"]
    changed = H.get("uncommitted_changes")
    rows = [["commit", H["commit"] + (f" (+ uncommitted changes in {len(changed)} files: {', '.join(changed[:6])}"
                                      f"{' ...' if len(changed) > 6 else ''})" if changed else "")],
            ["date", H["date_utc"]],
            ["libraries", ", ".join(f"{k} {val}" for k, val in v.items())],
            ["hardware", f"{hw['cpu']}, {hw['cores']} cores ({hw['torch_threads']} torch threads)"
                         + (f", GPU {hw['gpu']}" if hw.get("gpu") else ", no GPU used")],
            ["command", metrics.get("command", "")],
            ["wall time", f"{metrics['seconds']} s"]]
    b.append(("table", ["run", ""], rows))
    b.append(("table", ["model", "path", "sha256 of the weights"],
              [[role, m["path"], m["sha256"]] for role, m in H["models"].items()]))
    return b


def _by_product(P: dict) -> bool:
    return P.get("bootstrap_unit", "query") == "product"  # reports written before the setting: queries


def _unit_words(P: dict) -> str:
    if _by_product(P):
        return ("that resamples test products (a product's edits and its street photos are drawn together, as they "
                "are not independent draws: the interval is that of the products tested)")
    return "over queries"


def _view_blocks(metrics: dict, view: str, images: dict[str, str]) -> list[tuple]:
    P = metrics["protocol"]
    V = metrics["views"][view]
    M, G = V["methods"], V["groups"]
    K = P["max_k"]
    hk = P["headline_ks"]
    title = "Shop view" if view == "shop" else "Street view (consumer-to-shop)" if view == "street" else f"{view} view"
    b: list[tuple] = [("h2", title)]
    qpg = V["protocol"]["queries_per_group"]
    b.append(("p", f"{V['protocol']['queries']} queries (" + ", ".join(f"{g} {n}" for g, n in qpg.items())
                   + f"); {next(iter(M.values()))['retrieval']['valid_queries']} have an item with the target "
                   f"attributes in the gallery and count."))
    # groups that can be judged
    b.append(("h3", "Which edited attributes retrieval can judge"))
    rows = []
    for g, j in G.items():
        lead = j["lead"]
        rows.append([g, _fmt(j["floor"]), _fmt(j["ceiling"]), fmt_diff(lead),
                     "yes" if j["measurable"] else f"no: {NOT_MEASURABLE}"])
    b.append(("table", ["group", f"unedited top-{K} (floor)", f"truth top-{K} (ceiling)",
                        "ceiling - floor [95%]", "measurable"], rows))
    bad = [g for g, j in G.items() if not j["measurable"]]
    if bad:
        b.append(("p", " ".join(f"**{g}**: {NOT_MEASURABLE} ({G[g]['reason']}); it is left out of the means over "
                                f"measurable groups." for g in bad)))
    # headline table
    mg_groups = next(iter(M.values()))["retrieval"]["measurable_groups"]["groups"]
    b.append(("h3", f"Retrieval, measurable groups ({', '.join(mg_groups) or 'none'}): the headline"))
    rows = []
    for n, m in M.items():
        r = m["retrieval"]["measurable_groups"]
        rows.append([method_label(n, metrics)] + [fmt_ci(r.get(f"top{k}"), r["ci95"].get(f"top{k}")) for k in hk]
                    + [fmt_ci(r.get(f"exact_item@{K}"), r["ci95"].get(f"exact_item@{K}"))])
    b.append(("table", ["method"] + [f"top-{k}" for k in hk] + [f"exact item @{K}"], rows))
    b.append(("h3", "Retrieval, all queries (comparable with earlier reports)"))
    rows = [[method_label(n, metrics)] + [fmt_ci(m["retrieval"][f"top{k}"], m["retrieval"]["ci95"][f"top{k}"]) for k in hk]
            + [fmt_ci(m["retrieval"][f"exact_item@{K}"], m["retrieval"]["ci95"][f"exact_item@{K}"])]
            for n, m in M.items()]
    b.append(("table", ["method"] + [f"top-{k}" for k in hk] + [f"exact item @{K}"], rows))
    if "flam" in M and "strength" in M["flam"]:
        b.append(("p", f"FLAM edits the query's feature with its calibrated edit strength {M['flam']['strength']:g} "
                       f"(chosen by `fir train-flam` on the validation split); the source attributes are FLAM's own "
                       f"reading of the query, right for {M['flam'].get('source_attribute_accuracy', float('nan')):.1%} "
                       f"of the attribute values."))
    # per group
    groups = list(qpg)
    for k in sorted(hk, reverse=True):
        b.append(("h3", f"Top-{k} accuracy per edited attribute"))
        rows = [[method_label(n, metrics)] + [fmt_ci(m["retrieval"]["per_group"][g][f"top{k}"],
                                                     m["retrieval"]["per_group"][g]["ci95"][f"top{k}"])
                                              for g in groups] for n, m in M.items()]
        b.append(("table", ["method"] + [g + ("" if G[g]["measurable"] else " (not measurable)") for g in groups],
                  rows))
    # differences
    D = V["differences"]
    if D:
        b.append(("h3", "Differences between methods (paired bootstrap over the same "
                        f"{'products' if _by_product(metrics['protocol']) else 'queries'})"))
        b.append(("p", "Method a minus method b with its 95% interval; * marks an interval that excludes 0. "
                       "Retrieval on the measurable groups; edit accuracy (independent evaluator) on all queries."))
        rows = []
        for key, d in D.items():
            a, c = key.split("-")
            mg = d["measurable_groups"]
            rows.append([f"{method_label(a, metrics)} - {method_label(c, metrics)}"]
                        + [fmt_diff(mg.get(f"top{k}")) for k in hk] + [fmt_diff(mg.get(f"exact_item@{K}")),
                                                                      fmt_diff(d.get("edit_acc"))])
        b.append(("table", ["a - b"] + [f"top-{k}" for k in hk] + [f"exact item @{K}", "edit acc"], rows))
    # edit quality
    b.append(("h3", "Edit quality (image-level methods)"))
    cols = ["ssim_to_truth", "l1_to_truth", "outside_change", "attention_iou"]
    if metrics["lpips"]["available"]:
        cols.append("lpips_to_truth")
    rows = []
    for n, m in M.items():
        if "edit_quality" not in m:
            continue
        e = m["edit_quality"]
        ci = e.get("ci95", {})
        rows.append([method_label(n, metrics), fmt_ci(e["edit_acc"], ci.get("edit_acc")),
                     fmt_ci(e["preserve_acc"], ci.get("preserve_acc"))] + [_fmt(e.get(c), 4) for c in cols])
    b.append(("table", ["method", "edit acc", "preserve acc"] + [c.replace("_", " ") for c in cols], rows))
    rows = [[method_label(n, metrics)] + [fmt_ci(m["edit_quality"]["per_group"].get(g, {}).get("edit_acc"),
                                                 m["edit_quality"]["per_group"].get(g, {}).get("edit_acc_ci95"))
                                          for g in groups] for n, m in M.items() if "edit_quality" in m]
    if "truth" in M and "edit_quality" in M["truth"]:
        t_acc = M["truth"]["edit_quality"]["edit_acc"]
        b.append(("p", f"The evaluator reads the requested value on the ground-truth render {t_acc:.3f} of the time: "
                       f"its ceiling in this view" + (" (it was trained on shop renders only; well below 1, its "
                                                      "readings of this view say little, and retrieval and KID are "
                                                      "the measures to read here)." if t_acc < 0.9 else ".")))
    b.append(("p", "Evaluator accuracy of the edited attribute, per group (for the unedited query it reads the "
                   "source's value, so its edit accuracy is the floor):"))
    b.append(("table", ["method"] + groups, rows))
    # realism
    kid = V.get("kid") or {}
    if kid:
        b.append(("h3", kid["feature"]))
        b.append(("p", f"Each method's images of {kid['queries']} queries against one real render per query "
                       f"({kid['reference']}: the query's category and requested value, and as many of its other "
                       f"target values as the split has; {kid['reference_unique_images']} distinct renders, "
                       f"{kid.get('reference_full_target_match', float('nan')):.0%} with every target value), on "
                       f"pooled EfficientNet-Lite0 ImageNet features of the {kid['image_size']}-px images resized to "
                       f"{kid['feature_input_px']} px. Lower is closer to real renders; near 0 (or below: the "
                       f"estimator is unbiased) is indistinguishable. Not comparable with FID/KID on Inception "
                       f"features."))
        rows = [[method_label(n, metrics), _kid_fmt(k["kid"], k["ci95"]), str(k["n"])]
                for n, k in kid["methods"].items()]
        b.append(("table", ["method", "KID [95%]", "images"], rows))
        if kid.get("differences"):
            rows = [[f"{method_label(a, metrics)} - {method_label(c, metrics)}", _kid_fmt(d["diff"], d["ci95"])]
                    for key, d in kid["differences"].items() for a, c in [key.split("-")]]
            b.append(("table", ["KID difference a - b", "[95%]"], rows))
    if V.get("region_specific"):
        b.append(("h3", "Region-specific colour edits"))
        b.append(("p", "Colour requests kept to the sleeves or to the torso (the Editor's sleeve mask: the attention "
                       "of a 'sleeveless' edit thresholded at 0.9). Change inside / outside the true region of the "
                       "SynthFashion region map; IoU of the kept attention (> 0.5) with that region (images with "
                       "the region only). No catalogue item has two colours, so these edits are not scored by retrieval."))
        rows = [[r, str(v["n"]), _fmt(v["change_inside"], 4), _fmt(v["change_outside"], 4), _fmt(v["attention_iou"]),
                 str(v["n_with_region"])] for r, v in V["region_specific"].items()]
        b.append(("table", ["region", "edits", "change inside", "change outside", "attention IoU",
                            "images with region"], rows))
    name = f"samples_{view}.png"
    if images.get(name):
        b.append(("h3", "Samples"))
        b.append(("p", "Each row a different product and request: the input, AMGAN's attention (red) over it, each "
                       "image method's edit, the ground-truth render, then the top retrieved for the AMGAN edit and "
                       "for FLAM; a green frame is a hit (the target attributes), red a miss."))
        b.append(("img", name, images.get(name)))
    return b


def _blocks(metrics: dict, images: dict[str, str]) -> list[tuple]:
    P = metrics["protocol"]
    K = P["max_k"]
    b: list[tuple] = [("h1", "Retrieval-based evaluation of attribute edits")]
    b += _header_blocks(metrics)
    b.append(("p", f"Queries: the ground-truth single-attribute edits of the {P['split']} split, per view "
                   f"({', '.join(P['views'])}), each view in its own tables. Gallery (the catalogue, the same for every "
                   f"view): {P['gallery']} shop images ({P['gallery_catalogue']} catalogue images + "
                   f"{P['gallery_edit_truths']} ground-truth edit renders), so street queries are consumer-to-shop. "
                   f"A query is a hit at k when one of its top-k items has the full target attribute vector "
                   f"(AMGAN/ADDE protocol); exact item: the target product itself. Every number has a bootstrap 95% "
                   f"interval ({P['bootstrap']} draws) {_unit_words(P)}; differences between methods are paired "
                   f"bootstraps over the same {'products' if _by_product(P) else 'queries'}."))
    b.append(("p", f"Which groups count: a method can only score between doing nothing (the unedited query, the "
                   f"floor) and a perfect edit (the ground-truth render, the ceiling). A group is measurable by "
                   f"retrieval when the ceiling leads the floor at top-{K} by at least {P['measurable_margin']:.2f} "
                   f"at the lower end of its paired 95% interval; otherwise no method can be told apart from doing "
                   f"nothing there, the group is marked \"{NOT_MEASURABLE}\" with its numbers and left out of the "
                   f"means over measurable groups (the headline tables). All-query numbers are shown too."))
    if metrics["methods_skipped"]:
        b.append(("p", "Not run: " + "; ".join(f"{method_label(k, metrics)}: {v}"
                                                for k, v in metrics["methods_skipped"].items())))
    if not metrics["lpips"]["available"]:
        b.append(("p", "LPIPS: " + metrics["lpips"]["why"] + "."))
    b.append(("p", "Edit quality: the independent evaluator classifier (never used to train a GAN) reads the "
                   "requested value (edit acc) and every other attribute (preserve acc); SSIM and L1 to the "
                   "ground-truth render; outside change: mean |edit - input| outside the source and target garments "
                   "(images in [0, 1]); attention IoU: attention > 0.5 against the pixels the true edit changes. "
                   "Editors at another resolution are measured on their edit brought to the embedder's input "
                   "through its image processor."))
    b.append(("img", "topk_curves.png", images.get("topk_curves.png")))
    b.append(("img", f"per_group_top{K}.png", images.get(f"per_group_top{K}.png")))
    if images.get("kid.png"):
        b.append(("img", "kid.png", images.get("kid.png")))
    for view in metrics["views"]:
        b += _view_blocks(metrics, view, images)
    b += _photo_blocks(metrics, images)
    L = metrics.get("latency") or {}
    if L:
        b.append(("h2", f"Latency per query (batch 1, median, CPU, {L.get('view', '')} view)"))
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
    b.append(("h2", "Time"))
    b.append(("p", f"Evaluation wall time {metrics['seconds']} s; per step (s): "
                   + ", ".join(f"{k} {v}" for k, v in metrics.get("method_seconds_total", {}).items()) + "."))
    return b


def md_blocks(text: str, demote: int = 1) -> list[tuple]:
    """Blocks from the markdown the other reports write (headings, paragraphs, pipe tables, bullet
    lists, code fences), headings ``demote`` levels deeper and at most h3, so another report's text
    becomes a section of this one."""
    blocks: list[tuple] = []
    lines = text.splitlines()
    i, para = 0, []

    def flush():
        if para:
            blocks.append(("p", " ".join(para)))
            para.clear()

    def cells(line):
        parts, cur, esc = [], "", False
        for ch in line.strip().strip("|"):
            if ch == "|" and not esc:
                parts.append(cur.strip())
                cur = ""
            else:
                cur += ch if not (ch == "\\" and not esc) else ""
            esc = ch == "\\" and not esc
        parts.append(cur.strip())
        return parts

    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            flush()
            level = min(3, len(line) - len(line.lstrip("#")) + demote)
            blocks.append((f"h{level}", line.lstrip("#").strip()))
        elif line.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            body = [r for r in rows[1:] if not all(set(c) <= set("-: ") for c in r)]
            blocks.append(("table", rows[0], body))
            continue
        elif line.startswith("```"):
            flush()
            i += 1
            code = []
            while i < len(lines) and not lines[i].startswith("```"):
                code.append(lines[i])
                i += 1
            blocks.append(("p", "`" + " ".join(code) + "`"))
        elif line.startswith("- "):
            flush()
            blocks.append(("p", "- " + line[2:]))
        elif not line.strip():
            flush()
        else:
            para.append(line.strip())
        i += 1
    flush()
    return blocks


def _photo_blocks(metrics: dict, images: dict[str, str]) -> list[tuple]:
    """The real-photo section (:mod:`fir.evaluate_photo_section`): its own tables."""
    Ph = metrics.get("photos")
    if not Ph:
        return []  # a report written before the section existed
    b: list[tuple] = [("h2", "Real photos (no ground truth: training-free probes and an independent reader)")]
    if Ph.get("skipped"):
        return b + [("p", f"Skipped: {Ph['skipped']}.")]
    from amgan.edit_report import photos_markdown
    from fir.evaluate_photos import report_markdown

    R = Ph["reading"]
    b.append(("p", f"Photos of contributors no model trained on ({R['split']} split of `{R['data']}`, split by "
                   "contributor). Reading: accuracy per group over the photos whose label is known (category and "
                   "sleeve from the garment class, colour from the training-free annotator, and colour against the "
                   "hand-checked labels). Retrieval among the photos: a hit shares every known value asked. Edits: "
                   "colour edits judged on the garment mask by training-free probes, sleeve edits by the "
                   f"independent reader. Section time {Ph['seconds']} s."))
    b += [blk for blk in md_blocks(report_markdown(R), demote=2) if blk[0] != "h3" or "Reading real photos" not in blk[1]]
    if Ph.get("edits"):
        b.append(("h3", f"Edits of photos by `{Ph['edits'].get('editor', '')}`"))
        b += [blk for blk in md_blocks("\n".join(photos_markdown(Ph["edits"])), demote=2) if blk[0] != "h3"]
        if images.get("samples_photos.jpg"):
            b.append(("img", "samples_photos.jpg", images["samples_photos.jpg"]))
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
            esc = lambda c: str(c).replace("|", "\\|")  # noqa: E731
            out.append("| " + " | ".join(map(esc, head)) + " |\n| " + " | ".join("---" for _ in head) + " |")
            out += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
            out.append("")
        elif kind == "img" and rest[1] is not None:
            out.append(f"![{rest[0]}]({rest[0]})\n")
    return "\n".join(out) + "\n"


def _inline(text: str) -> str:
    """HTML-escaped text with **bold** and `code` spans."""
    import re

    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", t)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", t)


def _html(blocks) -> str:
    e = html.escape
    body = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{e(rest[0])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(rest[0])}</p>")
        elif kind == "table":
            head, rows = rest
            body.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"
                        + "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
                        + "</table>")
        elif kind == "img" and rest[1] is not None:
            mime = "jpeg" if rest[0].lower().endswith((".jpg", ".jpeg")) else "png"
            body.append(f'<img alt="{e(rest[0])}" src="data:image/{mime};base64,{rest[1]}">')
    style = ("body{font-family:system-ui,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 8px;"
             "text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Retrieval-based evaluation</title>"
            f"<style>{style}</style></head><body>" + "\n".join(body) + "</body></html>\n")


def write_report(out: Path, metrics: dict, figures: dict, gal_paths, gal_labels, samples_per_group: int,
                 photo_samples: list | None = None) -> None:
    """``figures``: {view: {"q", "visuals", "rankings", "schema_values"}} (the sample sheets' inputs);
    ``photo_samples``: rows of the real-photo edit sheet (:func:`amgan.edit_report.photo_sheet`)."""
    out = Path(out)
    K = metrics["protocol"]["max_k"]
    files: dict[str, bytes] = {"topk_curves.png": plot_curves(metrics), f"per_group_top{K}.png": plot_groups(metrics, K)}
    kid_png = plot_kid(metrics)
    if kid_png:
        files["kid.png"] = kid_png
    for name, data in files.items():
        atomic_write_bytes(out / name, data)
    for view, f in figures.items():
        grid = sample_grid(f["q"], f["visuals"], f["rankings"], gal_paths, gal_labels, samples_per_group,
                           f.get("schema_values"), metrics)
        if grid is not None:
            atomic_save_image(out / f"samples_{view}.png", grid)
            files[f"samples_{view}.png"] = (out / f"samples_{view}.png").read_bytes()
    if photo_samples:
        from amgan.edit_report import photo_sheet

        photo_sheet(photo_samples, out / "samples_photos.jpg")
        files["samples_photos.jpg"] = (out / "samples_photos.jpg").read_bytes()
    b64 = {k: base64.b64encode(v).decode() for k, v in files.items()}
    blocks = _blocks(metrics, b64)
    atomic_write_text(out / "report.md", _md(blocks))
    atomic_write_text(out / "report.html", _html(blocks))
