"""The Retriever: images in, catalogue matches out; optional FLAM feature-level edits.

    r = Retriever.from_paths("checkpoints/fir_synth64", "runs/gallery",
                             flam="checkpoints/flam_synth64")
    res = r.search(img, k=10)                      # SearchResult: hits, vector, timings
    res = r.flam_search(img, {"color": "red"})     # FlamResult: hits for "this, but red"
    res = r.flam_search(img, "make it red", source={"color": "blue", ...})

Images of any size and mode go through the embedder's saved :class:`amgan.image.ImageProcessor`
(EXIF orientation, padded to a square with their border colour, resized), as in every door; an
embedder that reads garments alone (the processor's ``view="garment"``) first cuts the photo to
its garment (GrabCut's mask, the annotator's: as the catalogue's photos were cut).
The index must have been built by the same embedder (its ``model_id`` is the sha256 of
the embedder checkpoint): another model's index is refused with
:class:`fir.index.IndexMismatchError`, and so is a FLAM model trained on another
embedder's features.
"""
from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from amgan.errors import RequestError
from amgan.image import ImageProcessor, garment_view, to_rgb
from fir.index import GalleryIndex, Hit, check_k

__all__ = ["Retriever", "SearchResult", "FlamResult"]

CUT_CACHE = 8  # garment cuts of the last photos kept (an embedder with the "garment" view; ~1 MB each at most)


@dataclass
class SearchResult:
    hits: list[Hit]
    vector: np.ndarray  # the query embedding [D]
    timings: dict = field(default_factory=dict)  # seconds per stage


@dataclass
class FlamResult(SearchResult):
    source: dict = field(default_factory=dict)  # {group: value} the edit started from
    target: dict = field(default_factory=dict)  # {group: value} after the edit
    request: dict = field(default_factory=dict)  # the validated request


class Retriever:
    """FIR embedder + gallery index (+ FLAM). Thread-safe for concurrent reads (the one state, the cache of garment
    cuts, is behind a lock)."""

    def __init__(self, net, index: GalleryIndex, processor: ImageProcessor | int, flam=None, device=None,
                 model_id: str | None = None):
        self.device = torch.device(device or "cpu")
        self.net = net.to(self.device).eval().requires_grad_(False)
        self.index = index
        self.processor = processor if isinstance(processor, ImageProcessor) else ImageProcessor(size=int(processor))
        self._whole = dataclasses.replace(self.processor, view="whole")  # after a garment cut, the rest of the path
        self._cuts: OrderedDict = OrderedDict()  # (size, digest of the pixels) -> garment_view, CUT_CACHE newest
        self._lock = threading.Lock()
        self.image_size = self.processor.size
        self.flam = flam
        self.model_id = model_id
        if index.dim != net.dim:
            raise ValueError(f"index vectors have dim {index.dim} but the embedder makes dim {net.dim}")

    @classmethod
    def from_paths(cls, embedder: str | Path, index_dir: str | Path, flam: str | Path | None = None,
                   device=None) -> "Retriever":
        from amgan.pretrained import model_id as weights_id
        from fir.model import load_embedder

        net, p = load_embedder(embedder)  # first: a file that is no embedder is named as such
        model_id = weights_id(embedder)
        index = GalleryIndex.load(index_dir, expect_model_id=model_id)
        flam_model = None
        if flam is not None:
            from fir.flam import load_flam

            flam_model = load_flam(flam, expect_embedder_id=model_id)
        return cls(net, index, p.image_processor, flam=flam_model, device=device, model_id=model_id)

    # ---- embedding
    def _tensor(self, image, mask=None) -> torch.Tensor:
        if self.processor.view != "garment" or mask is not None:
            return self.processor.preprocess(image, mask=mask).tensor
        return self._whole.preprocess(self.view(image)).tensor

    def view(self, image):
        """What the embedder sees of a photo before the square and the resize (PIL RGB): the garment alone for an
        embedder that reads garments (GrabCut's mask), else the photo itself."""
        if self.processor.view != "garment":
            return to_rgb(image)
        # the garment found by GrabCut (~40 ms): kept for the last few photos, so a photo read by FLAM, searched
        # as it is and searched with a FLAM edit (the demo's one click) is cut once
        rgb = to_rgb(image)
        key = (rgb.size, hashlib.blake2b(rgb.tobytes(), digest_size=16).digest())
        with self._lock:
            cut = self._cuts.get(key)
            if cut is not None:
                self._cuts.move_to_end(key)
        if cut is None:
            cut = garment_view(rgb)
            with self._lock:
                self._cuts[key] = cut
                while len(self._cuts) > CUT_CACHE:
                    self._cuts.popitem(last=False)
        return cut

    @torch.no_grad()
    def embed(self, image, mask=None) -> np.ndarray:
        """One image (PIL or array, any size) -> its unit embedding [D] (float32). An embedder that reads garments
        alone cuts the photo by ``mask`` (the garment, > 0), or by the garment GrabCut finds when it is None
        (:func:`amgan.image.garment_view`)."""
        return self.net(self._tensor(image, mask).to(self.device))[0].float().cpu().numpy()

    @torch.no_grad()
    def embed_tensor(self, x: torch.Tensor) -> np.ndarray:
        """float [B,3,H,W] in [0,1] -> unit embeddings [B, D] (the net resizes internally)."""
        return self.net(x.to(self.device)).float().cpu().numpy()

    # ---- search
    def _check_k(self, k) -> int:
        return check_k(k, self.index.count)

    def search_vector(self, vector: np.ndarray, k: int = 10) -> list[Hit]:
        return self.index.search_items(np.asarray(vector, np.float32)[None], self._check_k(k))[0]

    def search(self, image, k: int = 10) -> SearchResult:
        k = self._check_k(k)
        t0 = time.perf_counter()
        v = self.embed(image)
        t1 = time.perf_counter()
        hits = self.search_vector(v, k)
        t2 = time.perf_counter()
        return SearchResult(hits, v, {"embed": round(t1 - t0, 6), "search": round(t2 - t1, 6)})

    # ---- FLAM
    @property
    def schema(self):
        return self.flam.schema if self.flam is not None else None

    def flam_search(self, image, request, source: dict | None = None, k: int = 10) -> FlamResult:
        """"This, but <request>" at the feature level: embed, manipulate with FLAM, search.

        ``request``: ``{group: value}`` or an instruction ("make it red"); ``source``: the
        image's current attribute values ({group: value}, e.g. from the Editor's
        classifier); when None, FLAM's own attribute embedders predict them.
        """
        if self.flam is None:
            raise RequestError("no FLAM model is loaded: pass flam=... (a `fir train-flam` model)")
        k = self._check_k(k)
        schema = self.flam.schema
        request = schema.parse_edit(request) if isinstance(request, str) else schema.validate_edit(request)
        t0 = time.perf_counter()
        v = self.embed(image)
        t1 = time.perf_counter()
        src = self.flam.predict_labels(v[None])[0]
        if source:
            known = schema.validate_values(source)  # user spellings resolved; unknown names are errors
            src = np.array([schema.group(g).index(known[g]) if g in known else int(src[i])
                            for i, g in enumerate(schema.names)], np.int64)
        tgt = schema.apply_edit(src, request)
        v2 = self.flam.manipulate(v[None], src[None], np.asarray(tgt)[None])[0]
        t2 = time.perf_counter()
        hits = self.search_vector(v2, k)
        t3 = time.perf_counter()
        return FlamResult(hits, v2, {"embed": round(t1 - t0, 6), "manipulate": round(t2 - t1, 6),
                                     "search": round(t3 - t2, 6)},
                          source=schema.decode(src), target=schema.decode(tgt), request=dict(request))
