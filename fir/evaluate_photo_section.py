"""The real-photo part of ``fir evaluate`` (config section ``photos:``), beside the SynthFashion views.

Real photos have no ground-truth edits and no street/shop pairs, so they get their own tables,
made by the two photo evaluations this project already has, run here with one config and written
into the same report:

- **reading and retrieval** (:func:`fir.evaluate_photos.evaluate_photos`, what ``fir evaluate-photos``
  runs): accuracy per group of the photo reader, the independent evaluator and FLAM on the test
  split (by contributor), colour against the hand-checked labels, and retrieval among the photos
  (plain, FLAM-edited, AMGAN-edited), each with its count and a bootstrap 95% interval;
- **edits of photos** (:func:`amgan.evaluate_edits.evaluate_photo_edits`, what ``amgan
  evaluate-edits --photos`` runs): colour edits judged by training-free probes on the garment mask
  (the annotator's colour, closeness to the target's anchor, detail kept, background change) and
  sleeve edits judged by the independent reader, with a sample sheet at the photos' own size.

Skipped, with the reason in the report, when ``photos.root`` is empty or has no manifest.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from amgan.errors import UserError

__all__ = ["PhotoEvalConfig", "photo_section", "photo_section_skipped"]


@dataclass(frozen=True)
class PhotoEvalConfig:
    root: str = ""  # an annotated photo set (amgan data convert clothing_dataset + amgan data annotate); "": skipped
    split: str = "test"
    reader: str = "checkpoints/reader128"  # the photo reader (the editor's CAM classifier)
    evaluator: str = "checkpoints/evaluator_reader128"  # independent reader: reads, and judges sleeve edits
    embedder: str = "checkpoints/fir_garment128"  # "" : no retrieval among photos
    flam: str = "checkpoints/flam_garment128"  # trained on `embedder`; "": none
    editor: str = "checkpoints/amgan_photo128"  # edits the photos; "": no edit probes
    checked: str = "amgan/data/labels/clothing_checked.csv"  # hand-checked colours; "": none
    edit_photos: int = 40  # photos edited for the probes (0: every photo of the split)
    amgan_retrieval_edits: int = 200  # AMGAN-edited retrieval requests (0: none)
    gallery_splits: str = "test,val"
    ks: tuple[int, ...] = (1, 10, 30)
    samples: int = 6  # rows of the photo sample sheet

    def check(self) -> list[tuple[bool, str]]:
        return [(self.split in ("train", "val", "test"), "photos.split must be train, val or test"),
                (self.edit_photos >= 0 and self.amgan_retrieval_edits >= 0 and self.samples >= 0,
                 "photos.edit_photos, photos.amgan_retrieval_edits and photos.samples must be >= 0"),
                (len(self.ks) > 0 and all(k >= 1 for k in self.ks), "photos.ks must be >= 1"),
                (not self.flam or bool(self.embedder), "photos.flam reads the FIR feature: set photos.embedder")]


def photo_section_skipped(cfg: PhotoEvalConfig) -> str | None:
    """Why the photo section is skipped, or None when it runs."""
    if not cfg.root:
        return "photos.root not set"
    if not (Path(cfg.root) / "manifest.csv").is_file():
        return (f"{cfg.root}/manifest.csv not found (make photos: amgan data convert clothing_dataset, then "
                "amgan data annotate)")
    return None


def _need(path: str, what: str) -> None:
    if path and not Path(path).exists():
        raise UserError(f"photos.{what}: {path} not found (set it to \"\" to leave it out)")


def photo_section(cfg: PhotoEvalConfig, progress: bool = True, int8: bool = False) -> tuple[dict, list]:
    """-> (the section's metrics: {"config", "reading", "edits", "seconds"}, the edit sample rows for
    :func:`amgan.edit_report.photo_sheet`). ``int8``: the editor's generator in int8 where its
    folder has one (``fir evaluate``'s ``int8`` key), else float."""
    from amgan.editor import Editor
    from amgan.evaluate_edits import evaluate_photo_edits, load_judge
    from fir.evaluate_photos import evaluate_photos

    t0 = time.perf_counter()
    for what in ("reader", "evaluator", "embedder", "flam", "editor", "checked"):
        _need(getattr(cfg, what), what)
    args = argparse.Namespace(
        data=cfg.root, split=cfg.split, classifier=cfg.reader or None, editor=None, evaluator=cfg.evaluator or None,
        embedder=[cfg.embedder] if cfg.embedder else None, flam=[cfg.flam] if cfg.flam else None,
        gallery_splits=cfg.gallery_splits, retrieval_groups="category,color,sleeve", edit_groups="color,sleeve",
        ks=list(cfg.ks), amgan_editor=(cfg.editor or None) if cfg.amgan_retrieval_edits else None,
        amgan_limit=cfg.amgan_retrieval_edits, no_retrieval=not cfg.embedder, checked=cfg.checked or None,
        int8=None if int8 else False)
    if not (args.classifier or args.evaluator or args.flam):
        raise UserError("photos: give at least one of photos.reader, photos.evaluator, photos.flam")
    out = {"reading": evaluate_photos(args, progress=progress)}
    samples: list = []
    if cfg.editor:
        ed = Editor.from_checkpoint(cfg.editor, device="cpu", int8=None if int8 else False)
        judge = load_judge(cfg.evaluator, ed, "photos.evaluator") if cfg.evaluator else None
        out["edits"], samples = evaluate_photo_edits(ed, cfg.root, judge, limit=cfg.edit_photos or None,
                                                     n_samples=cfg.samples, progress=progress, split=cfg.split)
        out["edits"]["editor"] = cfg.editor
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out, samples
