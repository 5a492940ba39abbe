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

        ed32, ed16 = build_editor(orig, "cpu"), build_editor(out, "cpu")
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
