"""What the page shows: mask and CAM overlays, gallery captions, the timings line, and the PNG
files the page's images are served from. No Gradio here: plain PIL, numpy and strings."""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["mask_overlay", "cam_overlay", "ms", "timings_markdown", "request_text", "PngStore",
           "gallery_and_matches", "attribute_table"]

THUMB_SIDE = 256  # catalogue images are shown at most this long (px)


BIG_PNG = 4_000_000  # pixels; larger images are written with the fastest PNG compression


def mask_overlay(image: Image.Image, mask: Image.Image, color=(230, 20, 20), alpha: float = 0.65) -> Image.Image:
    """The input tinted ``color`` where the attention mask is high (mask 0..255, any size)."""
    x = np.asarray(image.convert("RGB"), np.float32)
    m = np.asarray(mask.convert("L").resize(image.size, Image.BILINEAR), np.float32)[..., None] / 255.0 * alpha
    return Image.fromarray((x * (1 - m) + np.asarray(color, np.float32) * m + 0.5).clip(0, 255).astype(np.uint8))


def cam_overlay(image: Image.Image, cam: Image.Image, alpha: float = 0.5, cmap: str = "jet") -> Image.Image:
    """The CAM (0..255) as a matplotlib colormap blended over the input."""
    from matplotlib import colormaps

    x = np.asarray(image.convert("RGB"), np.float32)
    c = np.asarray(cam.convert("L").resize(image.size, Image.BILINEAR), np.float32) / 255.0
    heat = colormaps[cmap](c)[..., :3].astype(np.float32) * 255.0
    return Image.fromarray((x * (1 - alpha) + heat * alpha + 0.5).clip(0, 255).astype(np.uint8))


def ms(timings: dict) -> dict:
    """{stage: seconds} -> {stage: milliseconds, one decimal}."""
    return {k: round(float(v) * 1000, 1) for k, v in timings.items()}


def notes_markdown(info) -> str:
    """The notes of a result (``info["notes"]``: the model's caveats for the groups edited, what applied
    to one method only), one paragraph each."""
    return "\n\n".join(f"**Note:** {n}" for n in (info or {}).get("notes") or ())


def timings_markdown(info) -> str:
    """One line per step from ``info["timings_ms"]`` ({step: {stage: ms} or ms})."""
    t = (info or {}).get("timings_ms") or {}
    parts = []
    for step, v in t.items():
        if isinstance(v, dict):
            stages = ", ".join(f"{k} {x:.1f}" for k, x in v.items())
            parts.append(f"**{step}** {sum(v.values()):.1f} ms ({stages})")
        elif step != "total":
            parts.append(f"**{step}** {v:.1f} ms")
    if "total" in t:
        parts.append(f"**total** {t['total']:.1f} ms")
    return "Time on the server: " + " · ".join(parts) if parts else ""


def request_text(request: dict) -> str:
    """{group: value} -> 'group=value, ...' (what the page's "Request sent" box shows)."""
    return ", ".join(f"{g}={v}" for g, v in request.items())


def attribute_table(schema, probs: dict, flam_read: dict) -> list[list[str]]:
    """Rows ``[group, "value p%", "runner-up p%", FLAM's "value p%" or "-"]`` in schema order."""
    rows = []
    for g in schema.groups:
        ranked = sorted(probs[g.name].items(), key=lambda kv: -kv[1])
        rows.append([g.name, *(f"{v} {p:.0%}" for v, p in ranked[:2]), flam_read.get(g.name, "-")])
    return rows


class PngStore:
    """The page's images as PNG files named by their content hash, each written atomically.

    Gradio 6.31 caches a returned PIL image by truncating and rewriting a file named by its
    hash (``processing_utils.save_pil_to_cache``), so two users who get the same image at the
    same moment (a catalogue item, an example's edit) can be served a half-written file. Paths
    are copied into gradio's cache atomically, so the demo returns paths from here instead.

    The files live in a temporary folder that the store owns: results older than ``max_age``
    seconds are deleted as new ones come (gradio has copied them by then), catalogue thumbnails
    stay, and the whole folder goes with :meth:`close` or, at the latest, when the process exits.
    """

    def __init__(self, root: str | Path | None = None, max_age: float = 600.0):
        self._tmp = None if root else tempfile.TemporaryDirectory(prefix="amgan_demo_")  # removed at exit
        self.root = Path(root) if root else Path(self._tmp.name)
        self.max_age = float(max_age)
        self._thumbs: dict[str, str] = {}
        self._lock = threading.Lock()
        self._pruned = time.monotonic()

    def __call__(self, image: Image.Image, name: str = "image") -> str:
        """-> the path of ``image`` as ``<root>/results/<content hash>/<name>.png`` (the download's name)."""
        return self._write(image, name, "results")

    def _write(self, image: Image.Image, name: str, kind: str) -> str:
        from amgan.io import atomic_write_bytes

        buf = io.BytesIO()
        # a full-size edit of a phone photo: the fastest zlib level (12 MP: ~0.4 s instead of ~1.5 s, 30% larger)
        image.save(buf, format="PNG", compress_level=1 if image.width * image.height > BIG_PNG else 6)
        data = buf.getvalue()
        path = self.root / kind / hashlib.sha256(data).hexdigest()[:32] / f"{name}.png"
        with self._lock:
            if path.exists():
                os.utime(path)  # served again: young again, so pruning leaves it alone
            else:
                atomic_write_bytes(path, data)
        self._maybe_prune()
        return str(path)

    def thumb(self, path: str) -> str:
        """A catalogue image (any readable file) as a stored PNG, at most :data:`THUMB_SIDE` px on its longest
        side; a grey tile when it is missing."""
        if path not in self._thumbs:
            try:
                with Image.open(path) as im:
                    im = im.convert("RGB")
                    im.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.BILINEAR)  # a photo: small enough for a gallery tile
                    self._thumbs[path] = self._write(im, Path(path).stem, "catalogue")
            except OSError:
                return self._write(Image.new("RGB", (64, 64), (200, 200, 200)), "missing", "catalogue")
        return self._thumbs[path]

    def _maybe_prune(self):
        now = time.monotonic()
        if now - self._pruned >= min(60.0, self.max_age):
            self._pruned = now
            self.prune()

    def prune(self, max_age: float | None = None) -> int:
        """Delete results older than ``max_age`` seconds (default: the store's); -> how many."""
        cutoff = time.time() - (self.max_age if max_age is None else max_age)
        n = 0
        with self._lock:
            for f in (self.root / "results").glob("*/*.png"):
                try:
                    if f.stat().st_mtime < cutoff:
                        f.unlink()
                        n += 1
                        f.parent.rmdir()
                except OSError:  # gone already, or its folder holds the same image under another name
                    pass
        return n

    def close(self):
        """Remove the store's folder now (when the store made it)."""
        if self._tmp is not None:
            self._tmp.cleanup()


def gallery_and_matches(hits, schema, store: PngStore, matches=None) -> tuple[list, list[dict]]:
    """Hits -> (gallery [(png path, caption)], JSON rows). Caption: ``#rank score [✓] values``;
    ``matches``: one bool per hit, the method's ✓ (:func:`fir.pipeline.is_match`), or None for
    an unedited search (no ✓, no ``has_target``)."""
    if matches is not None and len(matches) != len(hits):
        raise ValueError(f"{len(matches)} match flags for {len(hits)} hits")
    gallery, rows = [], []
    for i, h in enumerate(hits):
        attrs = dict(h.item.get("attributes", {}))
        ok = bool(matches[i]) if matches is not None else False
        values = " ".join(attrs[g] for g in schema.names if attrs.get(g))
        score = round(float(h.score), 3)  # one rounding for caption and JSON, so they always agree
        gallery.append((store.thumb(str(h.item.get("path", ""))),
                        f"#{h.rank + 1} {score:.3f} {'✓ ' if ok else ''}{values}"))
        rows.append({"rank": h.rank + 1, "id": int(h.id), "score": score,
                     "product_id": h.item.get("product_id"), "attributes": attrs,
                     **({"has_target": ok} if matches is not None else {})})
    return gallery, rows
