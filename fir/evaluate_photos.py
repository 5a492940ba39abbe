"""How well each model reads real photos: ``fir evaluate-photos``.

    fir evaluate-photos --data data/clothing --out reports/photos \
        --classifier checkpoints/reader128 --editor checkpoints/amgan_photo128 \
        --evaluator checkpoints/evaluator_reader128 --embedder checkpoints/fir_synth64 --flam checkpoints/flam_synth64

For every reader given (a classifier model, the CAM classifier inside an editor, FLAM on the
FIR feature), on the photo data set's test split (split by contributor): accuracy per group
over the photos whose label is known, with the number of photos behind it and a bootstrap
95% interval. Labels: category and sleeve from the garment class, colour from the
annotator (``amgan data annotate``: a training-free measurement, itself measured against
hand-checked labels). Separately, colour against the hand-checked labels
(``--checked``: strict = the person's colour, lenient = either of the two names the person
allowed), on every hand-checked photo and on those in the test split; rows the person called
unknown are left out and counted.

Retrieval among the photos (each ``--embedder``, with the ``--flam`` in the same position):
plain and FLAM-edited queries, optionally AMGAN-edited ones
(:mod:`fir.evaluate_photos_retrieval`, protocol in :mod:`fir.photo_retrieval`), each number with
its count of valid queries and a bootstrap 95% interval. Writes ``metrics.json`` and ``report.md``.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from amgan.errors import UserError
from amgan.intervals import paired_difference_ci
from fir.metrics import accuracy_with_ci

__all__ = ["evaluate_photos", "main"]


def _readers(args) -> dict:
    """{name: callable(list of paths, their garment masks) -> int64 [N, G] predictions (-1 where a reader has no
    such group)}. The masks (:func:`fir.garment_copy.row_masks`) matter to an embedder that reads garments alone."""
    from amgan.pretrained import load_classifier

    readers = {}

    def classifier_reader(path):
        net, p = load_classifier(path)

        @torch.no_grad()
        def read(paths, masks):
            out = []
            for s in range(0, len(paths), 32):
                x = p.image_processor.batch(paths[s:s + 32])
                out.append(torch.stack([lg.argmax(1) for lg in net(x)], 1))
            return torch.cat(out).numpy()
        return read

    for name, path in (("classifier", args.classifier), ("evaluator", args.evaluator)):
        if path:
            readers[f"{name} ({Path(path).name})"] = classifier_reader(path)
    if args.editor:
        from amgan.editor import Editor

        ed = Editor.from_checkpoint(args.editor, device="cpu")

        @torch.no_grad()
        def read_editor(paths, masks):  # as the demo and the edit read a photo (its colour namer included)
            return np.stack([[int(p.argmax()) for p in ed.predict_probs(path)] for path in paths])
        what = " + ".join(["CAM classifier"] + [{"color": "colour namer", "sleeve": "sleeve shape"}[g]
                                                 for g in ed.mask_readers])
        readers[f"editor's {what} ({Path(args.editor).name})"] = read_editor
    flams, embedders = list(args.flam or []), list(args.embedder or [])
    if len(flams) > len(embedders):
        raise UserError("--flam reads the FIR feature: give the embedder each FLAM was trained on with --embedder "
                        "(the i-th --flam goes with the i-th --embedder)")

    def flam_reader(e_path, f_path):
        from amgan.pretrained import model_id
        from fir.flam import load_flam
        from fir.model import load_embedder

        net, ep = load_embedder(e_path)
        flam = load_flam(f_path, expect_embedder_id=model_id(e_path))

        @torch.no_grad()
        def read_flam(paths, masks):
            out = []
            for s in range(0, len(paths), 32):
                f = net(ep.image_processor.batch(paths[s:s + 32], masks=masks[s:s + 32])).numpy()
                out.append(flam.predict_labels(f))
            return np.concatenate(out)
        return read_flam

    for e_path, f_path in zip(embedders, flams):
        readers[f"FLAM ({Path(f_path).name})"] = flam_reader(e_path, f_path)
    if not readers:
        raise UserError("give at least one reader: --classifier, --editor, --evaluator or --flam with --embedder")
    return readers


def _checked(path: Path) -> dict[str, dict]:
    if not path.is_file():
        raise UserError(f"--checked: {path} not found")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"image", "color", "color_alt"}
    if rows and not need <= set(rows[0]):
        raise UserError(f"{path}: needs columns {sorted(need)}")
    return {r["image"]: r for r in rows}


def evaluate_photos(args, progress: bool = True) -> dict:
    from amgan.data.manifest import read_manifest
    from fir.garment_copy import row_masks

    t0 = time.perf_counter()
    m = read_manifest(Path(args.data) / "manifest.csv")
    schema = m.schema
    test = [i for i in m.indices(args.split, None)]
    checked = _checked(Path(args.checked)) if args.checked else {}
    stem_row = {Path(m.paths[i]).stem: i for i in range(len(m))}
    checked_rows = [stem_row[k] for k in checked if k in stem_row]
    rows = sorted(set(test) | set(checked_rows))
    paths = [str(m.image_path(i)) for i in rows]
    masks = row_masks(m, rows)
    pos = {r: j for j, r in enumerate(rows)}
    labels = m.labels[rows]
    is_test = np.array([m.splits[i] == args.split for i in rows])
    out = {"data": str(args.data), "split": args.split, "photos_in_split": len(test),
           "checked_file": str(args.checked or ""), "readers": {},
           # a group whose known labels in the split take one value is not measured: always saying it scores 1
           "single_valued_groups": {g.name: g.values[int(v[0])] for gi, g in enumerate(schema.groups)
                                    if len(v := np.unique(labels[is_test & (labels[:, gi] >= 0), gi])) == 1}}
    first = None  # the first reader's correctness: the others are compared with it, photo by photo
    for name, read in _readers(args).items():
        t = time.perf_counter()
        pred = np.concatenate([read(paths[s:s + 64], masks[s:s + 64]) for s in tqdm(range(0, len(paths), 64), desc=name,
                                                                    disable=not progress)])
        per_group, diff = {}, {}
        correct = pred == labels
        for gi, g in enumerate(schema.groups):
            known = is_test & (labels[:, gi] >= 0)
            per_group[g.name] = accuracy_with_ci(correct[known, gi])
            if first is not None:  # paired: the same photos, bootstrap of the mean difference
                diff[g.name] = paired_difference_ci(correct[known, gi], first[1][known, gi])
        res = {"test_split": per_group, "seconds_per_photo": round((time.perf_counter() - t) / max(1, len(paths)), 4)}
        if first is None:
            first = (name, correct.astype(float))
        else:
            res["minus_first_reader"] = {"reader": first[0], "test_split": diff}
        if checked:
            ci = schema.group_index("color")
            colors = schema.group("color")
            strict, lenient, strict_t, lenient_t, unknown = [], [], [], [], 0
            for img, r in checked.items():
                if img not in stem_row:
                    continue
                if r["color"] not in colors.values:
                    unknown += 1
                    continue
                p = colors.values[pred[pos[stem_row[img]], ci]]
                ok_s, ok_l = p == r["color"], p in {r["color"], r["color_alt"]}
                strict.append(ok_s)
                lenient.append(ok_l)
                if m.splits[stem_row[img]] == args.split:
                    strict_t.append(ok_s)
                    lenient_t.append(ok_l)
            res["colour_vs_hand_checked"] = {
                "all_checked": {"strict": accuracy_with_ci(strict), "lenient": accuracy_with_ci(lenient)},
                "checked_in_test_split": {"strict": accuracy_with_ci(strict_t), "lenient": accuracy_with_ci(lenient_t)},
                "person_said_unknown": unknown}
            if "sleeve" in schema.names:  # the sleeve the person saw (files with a sleeve column)
                si, sleeves = schema.group_index("sleeve"), schema.group("sleeve")
                hits = [sleeves.values[pred[pos[stem_row[img]], si]] == r["sleeve"] for img, r in checked.items()
                        if img in stem_row and (r.get("sleeve") or "") in sleeves.values]
                res["sleeve_vs_hand_checked"] = accuracy_with_ci(hits)
        out["readers"][name] = res
    if args.embedder and not args.no_retrieval:
        from fir.evaluate_photos_retrieval import retrieval_part

        t = time.perf_counter()
        out["retrieval"] = retrieval_part(args, m, test, progress)
        out["retrieval"]["seconds"] = round(time.perf_counter() - t, 1)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _cell(c: dict) -> str:
    if not c or c.get("acc") is None:
        return "-"
    return f"{c['acc']:.3f} [{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}] (n={c['n']})"


def report_markdown(res: dict) -> str:
    groups = list(next(iter(res["readers"].values()))["test_split"])
    lines = [f"# Reading real photos ({res['data']}, {res['split']} split)", "",
             f"{res['photos_in_split']} photos in the split (by contributor). Accuracy over the photos whose label is "
             "known, with a bootstrap 95% interval and the number of photos. Labels: where a person looked "
             "(`amgan data hand-labels`), that person's; elsewhere category and sleeve from the garment class, colour "
             "from the annotator (by default its colour namer: a reader that uses the namer agrees with these labels "
             "by construction; colour against people is in the hand-checked section).", ""]
    single = res.get("single_valued_groups") or {}
    if single:
        lines += ["Not measured here: " + "; ".join(f"**{g}** (every known label in the split is {v!r}, so a reader "
                                                     f"that always says {v!r} scores 1.0)" for g, v in single.items())
                  + ". Its column is marked *(one value)*.", ""]
    heads = [f"{g} *(one value)*" if g in single else g for g in groups]
    lines += ["| reader | " + " | ".join(heads) + " |", "| --- |" + " --- |" * len(groups)]
    for name, r in res["readers"].items():
        lines.append(f"| {name} | " + " | ".join(_cell(r["test_split"][g]) for g in groups) + " |")
    diffs = {n: r["minus_first_reader"] for n, r in res["readers"].items() if r.get("minus_first_reader")}
    if diffs:
        base = next(iter(diffs.values()))["reader"]
        lines += ["", f"Difference from {base}, photo by photo (the same photos; mean difference of being right, "
                  "paired bootstrap 95% interval):", "",
                  "| reader | " + " | ".join(heads) + " |", "| --- |" + " --- |" * len(groups)]
        for name, d in diffs.items():
            lines.append(f"| {name} | " + " | ".join(_diff_cell(d["test_split"].get(g, {})) for g in groups) + " |")
    if res["checked_file"]:
        lines += ["", f"## Colour against the hand-checked labels (`{res['checked_file']}`)", "",
                  "Strict: the person's colour; lenient: either name the person allowed. Photos the person called "
                  "unknown (multicolour, two colours in equal parts) are left out.", "",
                  f"| reader | all checked, strict | all checked, lenient | in {res['split']} split, strict | in {res['split']} split, "
                  "lenient |",
                  "| --- | --- | --- | --- | --- |"]
        for name, r in res["readers"].items():
            c = r["colour_vs_hand_checked"]
            lines.append(f"| {name} | {_cell(c['all_checked']['strict'])} | {_cell(c['all_checked']['lenient'])} | "
                         f"{_cell(c['checked_in_test_split']['strict'])} | {_cell(c['checked_in_test_split']['lenient'])} |")
        if any(r.get("sleeve_vs_hand_checked", {}).get("n") for r in res["readers"].values()):
            lines += ["", "Sleeve against the same file (the sleeve the person saw; photos with sleeves out of frame "
                      "left out): " + "; ".join(f"{name} {_cell(r.get('sleeve_vs_hand_checked', {}))}"
                                                 for name, r in res["readers"].items()) + "."]
    if res.get("retrieval"):
        lines += retrieval_markdown(res["retrieval"])
    lines += ["", f"Run time: {res['seconds']} s."]
    return "\n".join(lines) + "\n"


def _diff_cell(c: dict) -> str:
    d = (c or {}).get("diff", (c or {}).get("mean"))  # "mean": metrics.json written before the shared helper
    if d is None:
        return "-"
    return f"{d:+.3f} [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}] (n={c['n']})"


def _top(c: dict, ks) -> str:
    return " | ".join(_cell(c.get(f"top{k}", {})) for k in ks)


def retrieval_markdown(r: dict) -> list[str]:
    first = next(iter(r["by_embedder"].values()), None)
    if first is None:
        return []
    ks = [int(k[3:]) for k in first["plain"] if k.startswith("top")]
    c = r["edit_requests"]
    lines = ["", "## Retrieval among real photos", "",
             f"Queries: the {r['queries']} photos of the split; gallery: the {r['gallery']} photos of the "
             f"{'+'.join(r['gallery_splits'])} splits (by contributor, never train), the query's own photo left out. "
             f"A hit shares every value the query knows of {', '.join(r['groups'])} (an unknown gallery value never "
             "counts as a match); a query whose values no other gallery photo has is left out (n = valid queries).",
             "", f"Edits: \"this, but <value>\" for every other value of {', '.join(r['edit_groups'])} that some gallery "
             f"photo has with the query's other known values: {c['requests']} requests ({c['left_out_no_target']} "
             f"left out, no such photo in the gallery; {c['left_out_unknown_source']} (query, group) pairs skipped, "
             "the query's value unknown). A hit has the requested value and the query's other known values. "
             "FLAM starts from its own reading of the query. The unedited row searches the same targets with the "
             "query as it is (the floor).", "",
             "| embedder | query | requests | " + " | ".join(f"top-{k}" for k in ks) + " |",
             "| --- | --- | --- |" + " --- |" * len(ks)]
    for name, e in r["by_embedder"].items():
        rows = [("plain (same kind)", e["plain"])]
        for key, label in (("unedited_for_edit_targets", "unedited, edit targets"), ("flam_edited", "FLAM-edited"),
                           ("unedited_for_amgan_targets", "unedited, AMGAN's targets"),
                           ("amgan_edited", "AMGAN-edited")):
            for grp, cell in e.get(key, {}).items():
                rows.append((f"{label} ({grp})", cell))
        for label, cell in rows:
            n = cell.get("valid", 0)
            lines.append(f"| {name} | {label} | {n} | {_top(cell, ks)} |")
    if r.get("amgan_edits"):
        lines += ["", f"AMGAN: {r['amgan_edits']} edits, {r['amgan_seconds_per_edit']} s per edit."]
    return lines


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="a photo data set (amgan data convert clothing_dataset + annotate)")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="photos to read")
    p.add_argument("--classifier", help="a classifier model (e.g. the photo reader)")
    p.add_argument("--editor", help="an editor model: its CAM classifier")
    p.add_argument("--evaluator", help="the independent evaluator classifier")
    p.add_argument("--embedder", action="append", help="a FIR embedder (repeatable): retrieval among the photos, "
                   "and the features the FLAM given in the same position reads")
    p.add_argument("--flam", action="append", help="a FLAM model trained on the --embedder in the same position "
                   "(repeatable): reading, and FLAM-edited retrieval")
    p.add_argument("--gallery-splits", default="test,val", help="photo splits that form the retrieval gallery "
                   "(never train)")
    p.add_argument("--retrieval-groups", default="category,color,sleeve",
                   help="the values a retrieved photo must share with the query (the ones the query knows)")
    p.add_argument("--edit-groups", default="color,sleeve", help="groups whose values edits request")
    p.add_argument("--ks", type=int, nargs="+", default=[1, 10, 30], help="top-k of the retrieval accuracy")
    p.add_argument("--amgan-editor", default=None, help="also edit the photos with this AMGAN editor, then search")
    p.add_argument("--amgan-limit", type=int, default=200, help="AMGAN-edit at most this many requests (0: all)")
    p.add_argument("--no-retrieval", action="store_true", help="reading only")
    p.add_argument("--checked", default="amgan/data/labels/clothing_checked.csv", help="hand-checked colour labels")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args) -> int:
    from amgan.io import atomic_write_text

    res = evaluate_photos(args, progress=not args.no_progress)
    out = Path(args.out)
    atomic_write_text(out / "metrics.json", json.dumps(res, indent=2) + "\n")
    atomic_write_text(out / "report.md", report_markdown(res))
    print(report_markdown(res))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="fir evaluate-photos", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(p)
    return run(p.parse_args(argv))
