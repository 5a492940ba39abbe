"""Export an editor checkpoint for shipping: fp16 weights when that is lossless enough.

    amgan export --editor runs/synth64/editor.pt --out checkpoints/amgan_synth64/editor.pt \
        --check-data data/synth64 [--tolerance 0.004]

Edits made by the fp16 copy (loaded back to fp32, as the Editor does) are compared with the
fp32 original on up to 64 images of the data set; the export is refused when the mean
absolute difference exceeds ``tolerance`` (images in [0, 1]; 1/255 = 0.0039).
"""
from __future__ import annotations

import numpy as np
import torch

from amgan.checkpoint import load_checkpoint, save_checkpoint


def _half(sd: dict) -> dict:
    return {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}


@torch.no_grad()
def export_editor(src, dst, check_data=None, tolerance: float = 1 / 255, n_check: int = 64) -> dict:
    from amgan.data.memory import load_memory
    from amgan.editor import Editor

    ck = load_checkpoint(src, kind="amgan-editor")
    small = dict(ck, G_ema=_half(ck["G_ema"]), classifier=_half(ck["classifier"]), dtype="float16")
    report = {"source": str(src), "dtype": "float16"}
    if check_data:
        ed32 = Editor.from_checkpoint(src, device="cpu")
        tmp = save_checkpoint(str(dst) + ".check", "amgan-editor", **{k: v for k, v in small.items() if k not in ("format", "kind", "code_version")})
        ed16 = Editor.from_checkpoint(tmp, device="cpu")
        tmp.unlink()
        data = load_memory(check_data, ed32.size, ("test",), ("shop",), progress=False)
        x, labels = data.batch(torch.arange(min(n_check, len(data))))
        diffs, flips = [], 0
        for g in ed32.schema.manipulable:
            req = {g.name: g.values[0]}
            y32 = ed32.edit_tensor(x, labels, req)[0]
            y16 = ed16.edit_tensor(x, labels, req)[0]
            diffs.append(float((y32 - y16).abs().mean()))
        p32 = [p.argmax(1) for p in ed32.predict_tensor(x)]
        p16 = [p.argmax(1) for p in ed16.predict_tensor(x)]
        flips = int(sum((a != b).sum() for a, b in zip(p32, p16)))
        report.update(mean_abs_diff=round(float(np.mean(diffs)), 6), max_group_diff=round(max(diffs), 6),
                      classifier_flips=flips, checked_images=len(x))
        if max(diffs) > tolerance or flips:
            raise ValueError(f"fp16 export is not lossless enough: {report}")
    small.pop("format", None), small.pop("kind", None), small.pop("code_version", None)
    save_checkpoint(dst, "amgan-editor", **small)
    return report
