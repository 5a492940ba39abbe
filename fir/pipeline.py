"""Edit and search: the one pipeline from a photo and a request to catalogue matches.

    p = EditAndSearch.from_paths(editor="checkpoints/amgan_synth64", embedder="checkpoints/fir_synth64",
                                 index="runs/gallery", flam="checkpoints/flam_synth64")
    out = p.run(photo, "make it red", method="both", k=10)
    out.results["amgan"].hits, out.results["amgan"].matches, out.results["flam"].target

It is built from the parts (an :class:`amgan.editor.Editor`, a :class:`fir.retriever.Retriever`
holding the FIR embedder, the gallery index and optionally FLAM) and checks once that they
belong together: the index and FLAM were made with this embedder, and the editor and FLAM
share the attribute schema. It owns the policy the doors (demo, ``fir search``, ``fir
evaluate``) share:

- **whose reading each method starts from**: AMGAN starts from the editor's CAM classifier's
  reading, FLAM from its own attribute embedders' reading; in both, the values in ``source``
  (what a person or the catalogue knows) replace the reading for those groups;
- **the target** of a method is its source reading with the request put in;
- **what a match (✓) means**: the gallery item has every requested value, and every other
  target value wherever the item's label is known (unknown labels neither match nor
  mismatch). An unedited search has no target and marks nothing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from amgan.errors import RequestError, UserError

__all__ = ["EditAndSearch", "MethodResult", "PipelineResult", "PipelineMismatchError", "is_match", "METHODS"]

METHODS = ("amgan", "flam", "both")


class PipelineMismatchError(UserError):
    """The editor, embedder, index and FLAM given were not made for each other."""


def is_match(item_attributes: dict, target: dict, request: dict) -> bool:
    """The pipeline's ✓: every requested value present and equal; other target values equal
    wherever the item knows them (a missing/empty label is unknown)."""
    for g, v in request.items():
        if item_attributes.get(g) != v:
            return False
    for g, v in target.items():
        known = item_attributes.get(g)
        if known not in (None, "") and known != v:
            return False
    return True


@dataclass
class MethodResult:
    method: str  # "plain", "amgan" or "flam"
    hits: list  # fir.index.Hit, best first
    source: dict = field(default_factory=dict)  # the reading the method started from
    target: dict | None = None  # source with the request put in (None: unedited search)
    matches: list | None = None  # is_match per hit (None: unedited search)
    edit: object | None = None  # the AMGAN EditResult
    timings: dict = field(default_factory=dict)  # seconds per stage


@dataclass
class PipelineResult:
    request: dict
    region: str
    results: dict  # {method: MethodResult}


class EditAndSearch:
    def __init__(self, editor=None, retriever=None):
        if editor is None and retriever is None:
            raise ValueError("EditAndSearch needs an editor, a retriever, or both")
        self.editor, self.retriever = editor, retriever
        self._check()

    @classmethod
    def from_paths(cls, editor=None, embedder=None, index=None, flam=None, device=None) -> "EditAndSearch":
        from amgan.editor import Editor
        from fir.retriever import Retriever

        if (embedder is None) != (index is None):
            raise RequestError("searching needs both an embedder and the gallery index it built")
        if flam is not None and embedder is None:
            raise RequestError("FLAM works on an embedder's features: give the embedder and its index too")
        ed = Editor.from_checkpoint(editor, device=device) if editor is not None else None
        r = Retriever.from_paths(embedder, index, flam=flam, device=device) if embedder is not None else None
        return cls(ed, r)

    # ---- belonging together
    def _check(self) -> None:
        r, ed = self.retriever, self.editor
        if r is not None:
            mid = getattr(r, "model_id", None)
            if mid is not None and r.index.model_id != mid:
                raise PipelineMismatchError(f"the gallery index was built by embedder {r.index.model_id[:12]}..., "
                                            f"not by the loaded one ({mid[:12]}...); rebuild it with `fir index`")
            if r.flam is not None and mid is not None and r.flam.embedder_id != mid:
                raise PipelineMismatchError(f"FLAM was trained on embedder {r.flam.embedder_id[:12]}..., not on the "
                                            f"loaded one ({mid[:12]}...); retrain it with `fir train-flam`")
        if ed is not None and r is not None and r.flam is not None:
            a = {g.name: g.values for g in ed.schema.manipulable}
            b = {g.name: g.values for g in r.flam.schema.manipulable}
            if a != b:
                raise PipelineMismatchError(f"the editor and FLAM edit different attributes ({sorted(a)} vs "
                                            f"{sorted(b)}, or other values); use models trained on one schema")

    @property
    def schema(self):
        if self.editor is not None:
            return self.editor.schema
        if self.retriever is not None and self.retriever.flam is not None:
            return self.retriever.flam.schema
        return None

    @property
    def methods(self) -> tuple[str, ...]:
        out = []
        if self.editor is not None and self.retriever is not None:
            out.append("amgan")
        if self.retriever is not None and self.retriever.flam is not None:
            out.append("flam")
        return tuple(out)

    # ---- parts of the flow
    def parse(self, request) -> dict:
        schema = self.schema
        if schema is None:
            raise RequestError("no editor or FLAM model is loaded: edits are not available")
        return schema.parse_edit(request) if isinstance(request, str) else schema.validate_edit(request)

    def read(self, image) -> dict:
        """Each model's reading of the photo: {"classifier": {group: {value: p}}, "flam": {...}}."""
        out = {}
        if self.editor is not None:
            out["classifier"] = self.editor.predict(image)
        if self.retriever is not None and self.retriever.flam is not None:
            flam = self.retriever.flam
            probs = flam.predict_probs(self.retriever.embed(image)[None])
            out["flam"] = {g.name: {v: round(float(q), 4) for v, q in zip(g.values, pr[0])}
                           for g, pr in zip(flam.schema.groups, probs)}
        return out

    def _need_search(self):
        if self.retriever is None:
            raise RequestError("no embedder and gallery index are loaded: search is not available")

    def search(self, image, k: int = 10) -> MethodResult:
        """The unedited photo's matches (the floor every edit is compared with)."""
        self._need_search()
        res = self.retriever.search(image, k=k)
        return MethodResult("plain", res.hits, timings=dict(res.timings))

    def edit(self, image, request, region=None, source=None, colour_spread=None):
        if self.editor is None:
            raise RequestError("no AMGAN editor is loaded: image edits are not available")
        extra = {} if colour_spread is None else {"colour_spread": colour_spread}
        return self.editor.edit(image, request, region=region, source=source, **extra)

    def amgan(self, image, request, *, region=None, source=None, k: int = 10, colour_spread=None) -> MethodResult:
        """Edit the photo with AMGAN, then search with the edit (``colour_spread``: see :meth:`Editor.edit`)."""
        self._need_search()
        t = time.perf_counter()
        ed = self.edit(image, request, region=region, source=source, colour_spread=colour_spread)
        t_edit = time.perf_counter() - t
        res = self.retriever.search(ed.image, k=k)
        target = ed.target_attributes if "sleeves" not in ed.request else {**ed.source_attributes,
                                                                           **ed.request["sleeves"]}
        req = ed.request if "sleeves" not in ed.request else ed.request["sleeves"]
        return MethodResult("amgan", res.hits, source=ed.source_attributes, target=target,
                            matches=[is_match(h.item.get("attributes", {}), target, req) for h in res.hits],
                            edit=ed, timings={"edit": round(t_edit, 6), **res.timings})

    def flam(self, image, request, *, source=None, k: int = 10) -> MethodResult:
        """Move the photo's search feature with FLAM, then search."""
        self._need_search()
        if self.retriever.flam is None:
            raise RequestError("no FLAM model is loaded: feature-level edits are not available")
        res = self.retriever.flam_search(image, request, source=source, k=k)
        return MethodResult("flam", res.hits, source=res.source, target=res.target,
                            matches=[is_match(h.item.get("attributes", {}), res.target, res.request)
                                     for h in res.hits], timings=dict(res.timings))

    # ---- the whole flow
    def run(self, image, request, *, method: str = "amgan", region=None, source=None, k: int = 10,
            colour_spread=None) -> PipelineResult:
        """Edit and search by ``method`` ("amgan", "flam" or "both"); ``source`` = known values;
        ``colour_spread``: AMGAN's evenness of a whole-garment colour edit (None: the editor's own)."""
        if method not in METHODS:
            raise RequestError(f"unknown method {str(method)[:40]!r}; valid methods: {', '.join(METHODS)}")
        if self.retriever is not None:
            self.retriever._check_k(k)  # before any model runs: a bad k costs nothing
        req = self.parse(request)
        if source:
            source = self.schema.validate_values(source)
        wanted = ("amgan", "flam") if method == "both" else (method,)
        missing = [m for m in wanted if m not in self.methods]
        if missing:
            raise RequestError(f"method {missing[0]!r} is not available with the loaded models "
                               f"(available: {', '.join(self.methods) or 'none'})")
        if region not in (None, "whole") and "amgan" not in wanted:
            raise RequestError("a region edit is an AMGAN edit: choose method amgan or both")
        out = {}
        if "amgan" in wanted:
            out["amgan"] = self.amgan(image, req, region=region, source=source, k=k, colour_spread=colour_spread)
        if "flam" in wanted:
            out["flam"] = self.flam(image, req, source=source, k=k)
        return PipelineResult(request=req, region=region or "whole", results=out)

