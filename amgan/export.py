"""Export an editor for shipping: a model folder with fp16 weights, checked against fp32.

    amgan export --editor runs/synth64/editor.pt --out checkpoints/amgan_synth64 \
        --check-data data/synth64 [--tolerance 0.004]

Edits made by the fp16 copy (loaded back to fp32, as every loader does) are compared with
the fp32 original on up to 64 images of the data set; the export is refused, and nothing
written, when the mean absolute difference of any group's edits exceeds ``tolerance``
(images in [0, 1]; 1/255 = 0.0039) or any classifier reading flips. The format and the one
export function live in :mod:`amgan.pretrained`.
"""
from __future__ import annotations

import numpy as np
import torch

from amgan.pretrained import Pretrained, build_editor, export_pretrained


@torch.no_grad()
def export_editor(src, dst, check_data=None, tolerance: float = 1 / 255, n_check: int = 64,
                  card: dict | None = None) -> dict:
    """``src`` (editor folder or ``editor.pt``) -> model folder ``dst`` with fp16 weights."""

    def check(orig: Pretrained, out: Pretrained) -> dict:
        report = {"dtype": "float16"}
        if not check_data:
            return report
        from amgan.data.memory import load_memory

        ed32, ed16 = build_editor(orig, "cpu", int8=False), build_editor(out, "cpu", int8=False)
        data = load_memory(check_data, ed32.size, ("test",), ("shop",), progress=False)
        x, labels = data.batch(torch.arange(min(n_check, len(data))))
        diffs = []
        for g in ed32.schema.manipulable:
            req = {g.name: g.values[0]}
            y32 = ed32.edit_batch(x, req, source=labels, cam=False).y
            y16 = ed16.edit_batch(x, req, source=labels, cam=False).y
            diffs.append(float((y32 - y16).abs().mean()))
        p32 = [p.argmax(1) for p in ed32.predict_tensor(x)]
        p16 = [p.argmax(1) for p in ed16.predict_tensor(x)]
        flips = int(sum((a != b).sum() for a, b in zip(p32, p16)))
        report.update(mean_abs_diff=round(float(np.mean(diffs)), 6), max_group_diff=round(max(diffs), 6),
                      classifier_flips=flips, checked_images=len(x))
        if max(diffs) > tolerance or flips:
            raise ValueError(f"fp16 export is not lossless enough: {report}")
        return report

    return export_pretrained(src, dst, card=card, check=check)


def _photo_paths(photos, split: str) -> list:
    from pathlib import Path

    from amgan.data.manifest import read_manifest
    from amgan.errors import UserError

    root = Path(photos)
    if not (root / "manifest.csv").is_file():
        raise UserError(f"--photos: {root}/manifest.csv not found (a data set: amgan data synth, or amgan data "
                        "convert clothing_dataset)")
    m = read_manifest(root / "manifest.csv")
    idx = m.indices(split)
    if len(idx) == 0:
        raise UserError(f"--photos: {root} has no {split!r} rows")
    return [root / m.paths[i] for i in idx]


@torch.no_grad()
def quantize_editor(folder, photos, *, split: str = "train", n: int = 64, n_check: int = 16, requests: int = 2,
                    tolerance: float = 0.02, seed: int = 0, progress: bool = True) -> dict:
    """Calibrate the int8 generator of the editor model ``folder`` (:mod:`amgan.nets.int8`) on ``n``
    photos of ``split`` of the data set ``photos`` (``requests`` random edits each), check it on
    ``n_check`` other photos of that split (every manipulable group, a random value each, against the
    float editor) and write ``int8.pt`` into the folder. Refused, nothing written, when the mean
    absolute difference of the edits (images in [0, 1]) exceeds ``tolerance``."""
    import random
    from pathlib import Path

    from amgan.errors import UserError
    from amgan.nets.int8 import Int8Generator, calibrate, save_int8
    from amgan.pretrained import load_pretrained

    if n < 1 or n_check < 1 or requests < 1:
        raise UserError(f"--n, --check and --requests must be positive (got {n}, {n_check}, {requests})")
    if not Path(folder).is_dir():
        raise UserError(f"--editor: {folder} is not a model folder (amgan export writes one)")
    ed = build_editor(load_pretrained(folder, kind="amgan-editor"), "cpu", int8=False)
    paths = _photo_paths(photos, split)
    random.Random(seed).shuffle(paths)
    if len(paths) < n + n_check:
        raise UserError(f"--photos: {len(paths)} {split} photos, fewer than --n {n} + --check {n_check}")

    load = ed.processor.load  # a checked, upright RGB image
    cal = [load(q) for q in paths[:n]]
    state = calibrate(ed, cal, requests_per_image=requests, seed=seed, progress=progress)
    g8 = Int8Generator.from_state(ed.G, state)
    x = torch.cat([ed.processor.preprocess(load(q), "cpu")[0] for q in paths[n:n + n_check]])
    rng = random.Random(seed + 1)
    G32, diffs = ed.G, {}
    labels = ed.read_labels(x)
    for g in ed.schema.manipulable:
        req = {g.name: rng.choice(list(g.values))}
        y32 = ed.edit_batch(x, req, source=labels, cam=False).y
        ed.G = g8
        try:
            y8 = ed.edit_batch(x, req, source=labels, cam=False).y
        finally:
            ed.G = G32
        diffs[g.name] = round(float((y32 - y8).abs().mean()), 6)
    report = {"editor": str(folder), "photos": str(photos), "split": split, "calibration_photos": n,
              "requests_per_photo": requests, "checked_photos": n_check, "mean_abs_diff": diffs,
              "tolerance": tolerance, "seed": seed}
    if max(diffs.values()) > tolerance:
        raise UserError(f"the int8 generator differs from the float one by more than --tolerance {tolerance}: "
                        f"{diffs}; nothing written")
    report["written"] = str(save_int8(state, folder, report))
    return report
