"""The report of ``amgan evaluate-edits``: ``report.md`` from its metrics and the sample sheets
(``samples.jpg``: photo | edit | attention and garment mask, at the photo's own resolution;
``synth_samples.png``: source | edit | truth per view)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["report_markdown", "photo_sheet", "synth_sheet"]


def _rate(c) -> str:
    if not c or c.get("acc") is None:
        return "-"
    extra = f", {c['not_measured']} not measured" if c.get("not_measured") else ""
    return f"{c['acc']:.3f} [{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}] (n={c['n']}{extra})"


def _mean(c, digits: int = 3) -> str:
    if not c or c.get("mean") is None:
        return "-"
    return f"{c['mean']:.{digits}f} [{c['ci95'][0]:.{digits}f}, {c['ci95'][1]:.{digits}f}]"


def _synth_md(res: dict) -> list[str]:
    lines = ["## SynthFashion: edits against the true edit", "",
             f"`{res['data']}`, test split, every ground-truth edit of `edits.csv` "
             + ("(edited by `Editor.edit_batch` at the model's resolution: the generator alone; "
                if res.get("path", "model") == "model" else
                "(each render edited through `Editor.edit` as a photo: reading, generator, garment matte and composite, "
                "what the demo returns; ")
             + f"{res['seconds']} s). Rates with a bootstrap "
             "95% interval and n; means with their interval. SSIM/L1: the edit to the truth, and in brackets below "
             "it the unedited source to the truth (the floor an edit has to beat).", ""]
    if res.get("views_without_edits"):
        lines += [f"No ground-truth edits of view(s) {', '.join(res['views_without_edits'])} in `edits.csv`.", ""]
    judges = []
    for groups in res["views"].values():
        for g in groups.values():
            judges = list(g["judges"])
            break
    for view, groups in res["views"].items():
        lines += [f"### {view}", "",
                  "| group | n | colour hit | shape hit | shape hit, rest of the garment kept | SSIM to truth (source) | "
                  "L1 to truth (source) | change outside | change of the garment the truth keeps |"
                  + "".join(f" {j}: edit (truth) |" for j in judges),
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |" + " --- |" * len(judges)]
        for name, g in groups.items():
            row = [name, str(g["n"]), _rate(g.get("colour_hit")), _rate(g.get("shape_hit")),
                   _rate(g.get("kept_shape_hit")),
                   f"{_mean(g['ssim'])} ({_mean(g['ssim_source'])})", f"{_mean(g['l1'])} ({_mean(g['l1_source'])})",
                   _mean(g["outside_change"], 4), _mean(g.get("kept_change"), 4)]
            row += [f"{_rate(g['judges'][j]['edit'])} ({_rate(g['judges'][j]['truth']).split(' [')[0]})" for j in judges]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return lines


def _interior(d: dict) -> str:
    """The interior detail mean of a summary, or 'not measured' (reports written before it existed)."""
    v = d.get("detail_kept_interior")
    return _mean(v) if v else "not measured"


def photos_markdown(res: dict) -> list[str]:
    """The real-photo tables of a report (also a section of ``fir evaluate``'s)."""
    c, s, ref, un = res["colour_edits"], res["sleeve_edits"], res["detail_references"], res["unedited"]
    lines = ["## Real photos: training-free probes", "",
             f"`{res['data']}`, {res.get('split', 'test')} split (by contributor): {res['photos']} photos with an annotator garment mask "
             f"({res['photos_skipped']} skipped: mask missing or not the photo's size). Edited by `Editor.edit` at the "
             f"photo's own resolution, {res['seconds_per_edit']} s an edit; {res['seconds']} s in all. Colour edits: "
             f"two seeded targets per photo with a known colour (seed {res['seed']}), never its own colour. "
             f"Sleeve edits: every other sleeve length. Independent reader: {res['reader'] or 'none'}."
             + (" Intervals resample photos (a photo's edits together)." if res.get("bootstrap_unit") == "photo" else ""),
             "",
             "| colour edits | rate or mean [95% interval] (n) |", "| --- | --- |",
             f"| annotator reads the requested colour (confident) | {_rate(c.get('name_hit'))} |",
             f"| annotator's majority name is the requested colour | {_rate(c.get('majority_hit'))} |",
             f"| garment colour closer to the target's anchor than to the source's | {_rate(c.get('anchor_hit'))} |",
             f"| independent reader reads the requested colour | {_rate(c.get('reader_colour_ok'))} |",
             f"| detail kept (high-pass correlation), garment mask | {_mean(c.get('detail_kept'))} (n={c['detail_kept']['n']}) |",
             f"| detail kept, garment interior (outline left out) | {_interior(c)} |",
             f"| background change, border band | {_mean(c.get('border_change'), 4)} |",
             f"| background change, outside the dilated mask | {_mean(c.get('outside_change'), 4)} |", "",
             "| sleeve edits | rate or mean [95% interval] (n) |", "| --- | --- |",
             f"| independent reader reads the requested sleeve | {_rate(s.get('reader_sleeve_ok'))} |",
             f"| independent reader still reads the source sleeve | {_rate(s.get('reader_reads_source_rate'))} |",
             f"| detail kept, garment mask / interior | {_mean(s.get('detail_kept'))} / {_interior(s)} (n={s['detail_kept']['n']}) |",
             f"| colour change of the garment's interior (mean CIE76 per pixel; a sleeve request should not recolour) | "
             f"{_mean(s['colour_change_interior'], 2) if s.get('colour_change_interior') else 'not measured'} |",
             f"| made from the garment's outline | "
             f"{_rate(s['outline_rate']) if s.get('outline_rate') else 'not measured'} |",
             f"| left as they were (the outline could not; the photo comes back with the reason; the rest: the "
             f"generator) | {_rate(s['unchanged_rate']) if s.get('unchanged_rate') else 'not measured'} |",
             f"| the annotator's majority colour name is unchanged | "
             f"{_rate(s['colour_name_kept_rate']) if s.get('colour_name_kept_rate') else 'not measured'} |",
             f"| background change, border band / outside the mask | {_mean(s.get('border_change'), 4)} / "
             f"{_mean(s.get('outside_change'), 4)} |", ""]
    sb = res.get("sleeve_edits_by_target") or {}
    if sb:
        lines += ["Sleeve edits per requested length. A judge is only as good as its reading of that length on "
                  "unedited photos (last column): where it seldom reads a length, its verdict on edits to that length "
                  "says little.", "",
                  "| requested sleeve | edits | made from the outline | independent reader reads it | "
                  "the reader on unedited photos of that length |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {t} | {v['outline_rate']['n']} | {_rate(v.get('outline_rate')).split(' (n=')[0]} | "
                  f"{_rate(v['reader_sleeve_ok']).split(' (n=')[0] if v.get('reader_sleeve_ok') else 'not measured'} | "
                  f"{_rate(v['reader_reads_unedited']) if v.get('reader_reads_unedited') else 'not measured'} |"
                  for t, v in sb.items()]
        lines += [""]
    bt = res.get("colour_edits_by_target") or {}
    if bt:
        lines += ["Colour edits per requested colour (where an editor's colours fall short):", "",
                  "| requested colour | edits | annotator's majority name | detail kept, mask | interior |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {t} | {v['detail_kept']['n']} | {_rate(v.get('majority_hit')).split(' (n=')[0]} | "
                  f"{_mean(v.get('detail_kept'))} | {_interior(v)} |" for t, v in bt.items()]
        lines += [""]
    lines += ["Detail kept, references on the same photos (what a score means): an edit that changed nothing but "
             "went through the model's resolution and back, and an exact recolour (hue rotated on the garment).", "",
             "| reference | detail kept, mask | interior |", "| --- | --- | --- |"]
    ref_in = res.get("detail_references_interior") or {}
    lines += [f"| {k.replace('_', ' ')} | {_mean(v)} (n={v['n']}) | {_mean(ref_in.get(k)) if ref_in.get(k) else 'not measured'} |"
              for k, v in ref.items()]
    lines += ["", "Unedited photos (the judges' own accuracy; the annotator's agrees with its labels by construction "
              "unless a label was set by a person):", "",
              f"- annotator reads the labelled colour: {_rate(un.get('annotator_colour_ok'))}",
              f"- independent reader reads the labelled colour: {_rate(un.get('reader_colour_ok'))}",
              f"- independent reader reads the labelled sleeve: {_rate(un.get('reader_sleeve_ok'))}", ""]
    return lines


def report_markdown(res: dict) -> str:
    lines = [f"# Edits judged by probes: `{res['editor']}`", "",
             "Probes against the truth (SynthFashion) and training-free probes on real photos lead; classifiers "
             "that played no part in the edit are the second opinion. Written by `amgan evaluate-edits` "
             f"({res['seconds']} s; limit {res['limit'] or 'none'}; code at commit "
             f"{(res.get('code') or {}).get('commit', 'unknown')}"
             + (f", with uncommitted changes to {', '.join(res['code']['uncommitted_changes'])}"
                if (res.get("code") or {}).get("uncommitted_changes") else "") + ").", ""]
    if res.get("command"):
        lines += ["```sh", res["command"], "```", ""]
    if res.get("editor_settings"):
        lines += ["Editor settings (inference, saved with the model unless overridden by the command): "
                  + ", ".join(f"{k} {v}" for k, v in res["editor_settings"].items()) + ".", ""]
    if res.get("synth"):
        lines += _synth_md(res["synth"])
    if res.get("photos"):
        lines += photos_markdown(res["photos"])
    lines += ["## What the probes mean", "",
              "- **colour hit**: on the true target garment region, the edit's mean CIELAB colour is closer to the "
              "truth's than to the source's (a tie is a miss).",
              "- **shape hit**: on the pixels the true edit changes (mean |truth - source| > 0.05), the edit is closer "
              "(L1) to the truth than to the source; 'not measured' when the true edit changes no pixel.",
              "- **change outside**: mean |edit - source| on pixels that are background in both region maps (0..1).",
              "- **shape hit, rest of the garment kept**: a shape hit whose change of the garment the truth keeps "
              "(pixels that are garment in both region maps and that the true edit does not change) is at most 0.05: "
              "an edit that wipes out the garment with its sleeves is not a hit; **change of the garment the truth "
              "keeps**: that mean |edit - source| (0..1; '-' for colour edits, which change the whole garment).",
              "- **annotator reads**: `amgan.data.annotate`'s colour reader (CIEDE2000 palette, exposure normalised) on "
              "the edited photo's garment mask; confident = the name of at least 60% of the garment pixels.",
              "- **detail kept**: Pearson correlation of L* minus its Gaussian blur (sigma 2 px at the photo's "
              "resolution) between photo and edit on the garment mask; **interior**: on the mask less its outer "
              "6 px (3 sigma), where the high-pass reads the fabric only. Near the outline it also reads the floor, "
              "and a colour edit rightly changes the garment-against-floor contrast (a white shirt on a wooden floor "
              "turned blue flips that edge's sign while its folds stay).",
              "- **background change**: mean |edit - photo| on the outer 5% band and outside the mask dilated by 3% "
              "of the long side (0..1).", ""]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- sheets
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _mask_panel(image: np.ndarray, mask: np.ndarray, attention: np.ndarray) -> np.ndarray:
    """The photo greyed, the attention in red, the garment mask's outline in green."""
    import cv2

    grey = image.astype(np.float32).mean(axis=2, keepdims=True).repeat(3, 2) * 0.6
    a = (attention.astype(np.float32) / 255.0)[..., None]
    out = grey * (1 - a) + a * np.array([255, 40, 40], np.float32)
    w = max(2, image.shape[1] // 200)
    k = np.ones((2 * w + 1, 2 * w + 1), np.uint8)
    m = mask.astype(np.uint8)
    edge = (cv2.dilate(m, k) > 0) & ~(cv2.erode(m, k) > 0)
    out[edge] = (0, 255, 0)
    return np.clip(out, 0, 255).astype(np.uint8)


def photo_sheet(samples: list[dict], path: str | Path) -> Path:
    """One row per sample: a caption, then photo | edit | attention (red) + garment mask (green),
    each at the photo's own size. JPEG or PNG by suffix, written atomically."""
    from PIL import Image, ImageDraw

    from amgan.io import atomic_save_image, atomic_write

    if not samples:
        raise ValueError("no samples to draw")
    pad, cap, head = 12, 62, 40
    cell = max(s["image"].shape[1] for s in samples)  # one column width: photos of other shapes are centred
    width = 3 * cell + 4 * pad
    height = head + sum(s["image"].shape[0] + cap + pad for s in samples)
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    big, small = _font(24), _font(19)
    for c, title in enumerate(("photo", "edit", "attention (red), garment mask (green)")):
        draw.text((pad + c * (cell + pad), 8), title, fill=(0, 0, 0), font=big)
    y = head
    for s in samples:
        h, w = s["image"].shape[:2]
        req = f"{s['group']}: {s['source']} -> {s['target']}"
        draw.text((pad, y + 4), f"{req}    read on the edit: {s['read']}", fill=(0, 0, 0), font=big)
        draw.text((pad, y + 34), f"{s['photo']}    detail kept {s['detail']:.2f}    border change {s['border']:.3f}",
                  fill=(70, 70, 70), font=small)
        y += cap
        for c, tile in enumerate((s["image"], s["edit"], _mask_panel(s["image"], s["mask"], s["attention"]))):
            sheet.paste(Image.fromarray(tile), (pad + c * (cell + pad) + (cell - w) // 2, y))
        y += h + pad
    if Path(path).suffix.lower() in (".jpg", ".jpeg"):
        return atomic_write(path, lambda f: sheet.save(f, format="JPEG", quality=88))
    return atomic_save_image(path, sheet)


def synth_sheet(samples: dict, path: str | Path, scale: int = 3) -> Path:
    """SynthFashion samples, per view and group: source | edit | truth, enlarged ``scale`` times."""
    import torch

    from amgan.io import save_image_grid

    cols = [[], [], []]
    for groups in samples.values():
        for triple in groups:
            for k, arr in enumerate(triple):
                cols[k].append(torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float().div(255))
    cols = [torch.nn.functional.interpolate(torch.cat(c), scale_factor=scale, mode="nearest") for c in cols]
    return save_image_grid(path, cols)
