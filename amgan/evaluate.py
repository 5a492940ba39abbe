"""Acceptance evaluation of an AMGAN editor on a SynthFashion test split.

    python -m amgan.evaluate --editor runs/synth64/editor.pt --evaluator runs/evaluator64/classifier.pt \
        --data data/synth64 --out runs/synth64/eval

For every ground-truth edit in ``edits.csv`` (one per manipulable group per test image):
- edited-attribute accuracy: an evaluator classifier that played no part in training the
  GAN reads the edited group of the edit and agrees with the requested value;
- preservation: the evaluator reads every other group of the edit as its true value;
- outside change: mean |edit - input| over pixels outside the union of the source and the
  ground-truth target garment regions (images in [0, 1]);
- fidelity: L1 and SSIM (scikit-image) between the edit and the ground-truth render.
Writes ``metrics.json`` and a sample grid (input | mask | edit | truth per group).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import structural_similarity
from tqdm import tqdm

from amgan.data.memory import load_image, load_mask
from amgan.data.synth_dataset import read_edits
from amgan.errors import UserError
from amgan.io import atomic_write_text, save_image_grid


def _group_rows(rows, schema):
    by = {}
    for r in rows:
        by.setdefault(r["group"], []).append(r)
    return {g.name: by.get(g.name, []) for g in schema.manipulable}


@torch.no_grad()
def evaluate_editor(editor, evaluator, data_root, view="shop", batch_size=64, limit=None, progress=True):
    root = Path(data_root)
    schema = editor.schema
    rows = [r for r in read_edits(root) if r["view"] == view]
    if limit:
        rows = rows[:limit]
    if not rows:
        raise ValueError(f"{root}/edits.csv has no edits of view {view!r}")
    size = editor.size
    per_group, samples = {}, {}
    totals = dict(n=0, edit_ok=0, keep_ok=0, keep_n=0, outside=0.0, outside_px=0, l1=0.0, ssim=0.0)
    for gname, grows in _group_rows(rows, schema).items():
        gi = schema.group_index(gname)
        st = dict(n=0, edit_ok=0, keep_ok=0, keep_n=0, outside=0.0, outside_px=0, l1=0.0, ssim=0.0, truth_ok=0)
        for i in tqdm(range(0, len(grows), batch_size), desc=f"eval {gname}", disable=not progress):
            b = grows[i : i + batch_size]
            x = torch.from_numpy(np.stack([load_image(root / r["source"], size) for r in b])).permute(0, 3, 1, 2).float() / 255
            truth = torch.from_numpy(np.stack([load_image(root / r["target"], size) for r in b])).permute(0, 3, 1, 2).float() / 255
            src_mask = np.stack([load_mask(root / r["source"].replace("images/", "masks/", 1), size) for r in b])
            tgt_mask = np.stack([load_mask(root / r["target_mask"], size) for r in b])
            target = torch.from_numpy(np.stack([schema.encode({g: r[g] for g in schema.names}) for r in b]))
            x = x.to(editor.device)
            # the editor reads the source's current values itself, as in use
            out = editor.edit_batch(x, {gname: target[:, gi]}, cam=False)
            y, a = out.y, out.a
            pred = torch.stack([lg.argmax(1) for lg in evaluator(y)], 1).cpu()
            pred_truth = evaluator(truth.to(editor.device))[gi].argmax(1).cpu()
            st["n"] += len(b)
            st["edit_ok"] += int((pred[:, gi] == target[:, gi]).sum())
            st["truth_ok"] += int((pred_truth == target[:, gi]).sum())
            others = [j for j, g in enumerate(schema.groups) if j != gi]
            st["keep_ok"] += int((pred[:, others] == target[:, others]).sum())
            st["keep_n"] += len(b) * len(others)
            outside = torch.from_numpy((src_mask == 0) & (tgt_mask == 0))
            diff = (y.cpu() - x.cpu()).abs().mean(1)
            st["outside"] += float(diff[outside].sum())
            st["outside_px"] += int(outside.sum())
            st["l1"] += float((y.cpu() - truth).abs().mean(dim=(1, 2, 3)).sum())
            yn, tn = y.cpu().permute(0, 2, 3, 1).numpy(), truth.permute(0, 2, 3, 1).numpy()
            st["ssim"] += float(sum(structural_similarity(p, q, channel_axis=2, data_range=1.0) for p, q in zip(yn, tn)))
            if gname not in samples:
                samples[gname] = (x[:6].cpu(), a[:6].cpu(), y[:6].cpu(), truth[:6])
        for k in totals:
            totals[k] += st[k]
        n = max(1, st["n"])
        per_group[gname] = {
            "n": st["n"],
            "edit_accuracy": round(st["edit_ok"] / n, 4),
            "truth_accuracy": round(st["truth_ok"] / n, 4),
            "preservation": round(st["keep_ok"] / max(1, st["keep_n"]), 4),
            "outside_change": round(st["outside"] / max(1, st["outside_px"]), 5),
            "l1_to_truth": round(st["l1"] / n, 4),
            "ssim_to_truth": round(st["ssim"] / n, 4),
        }
    groups = [g for g in per_group if per_group[g]["n"]]
    result = {
        "edit_accuracy_mean": round(float(np.mean([per_group[g]["edit_accuracy"] for g in groups])), 4),
        "preservation": round(totals["keep_ok"] / max(1, totals["keep_n"]), 4),
        "outside_change": round(totals["outside"] / max(1, totals["outside_px"]), 5),
        "l1_to_truth": round(totals["l1"] / max(1, totals["n"]), 4),
        "ssim_to_truth": round(totals["ssim"] / max(1, totals["n"]), 4),
        "n_edits": totals["n"],
        "view": view,
        "per_group": per_group,
    }
    return result, samples


def sample_grid(samples: dict, path: Path) -> Path:
    """Per group: input | mask | edit | truth."""
    return save_image_grid(path, [col for x_a_y_t in samples.values() for col in x_a_y_t])


def main(argv=None) -> int:
    from amgan.editor import Editor
    from amgan.pretrained import load_classifier, load_pretrained

    p = argparse.ArgumentParser(prog="python -m amgan.evaluate")
    p.add_argument("--editor", required=True)
    p.add_argument("--evaluator", required=True, help="a classifier checkpoint not used to train the GAN")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--view", default="shop")
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args(argv)
    ed = Editor.from_checkpoint(args.editor)
    ev, ev_p = load_classifier(args.evaluator)
    ed_sd = load_pretrained(args.editor, kind="classifier").weights["classifier"]
    ev_sd = ev_p.weights["classifier"]
    if ed_sd.keys() == ev_sd.keys() and all(torch.equal(ed_sd[k].float(), ev_sd[k].float()) for k in ev_sd):
        raise UserError("the evaluator is the classifier that trained the GAN; train an independent one")
    result, samples = evaluate_editor(ed, ev.to(ed.device), args.data, view=args.view, limit=args.limit)
    result["editor_step"] = getattr(ed, "checkpoint_step", None)
    result["evaluator_test_accuracy"] = (ev_p.info.get("metrics") or {}).get("test_accuracy")
    out = Path(args.out)
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=2) + "\n")
    sample_grid(samples, out / "samples.png")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
