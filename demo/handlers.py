"""What the endpoints compute, and the checks on what they are given.

:class:`DemoLogic` holds the models and has one method per page action; the named API endpoints
are ``edit``, ``search`` and ``edit_and_search``. Every method is wrapped by :func:`page_errors`:
a :class:`amgan.errors.UserError` (a mistake the user can fix) becomes a ``gr.Error`` with its
message, shortened and HTML-escaped; anything else is a bug: logged with its traceback
(``logging.exception`` on the ``demo`` logger) and shown as :data:`INTERNAL`.

Uploads are read by :func:`load_photo`, which scales them to at most ``side`` pixels on the
longest side before anything else sees them (a JPEG is decoded at a reduced scale straight away):
:data:`EDIT_SIDE` for the edit endpoints (the editor works at the photo's own resolution, so a
12-megapixel phone photo is edited, and returned, at its full 4000x3000), :data:`WORK_SIDE` for
reading and searching a photo (the models see at most 128 px). The mask and CAM overlays are
drawn at most :data:`WORK_SIDE` px: they show where, the edit itself is the full-size file.
"""
from __future__ import annotations

import functools
import html
import json
import logging
import re
import time
from pathlib import Path

import gradio as gr
from PIL import Image, ImageOps, UnidentifiedImageError

from amgan.errors import ImageError, RequestError, UserError
from amgan.image import MAX_PIXELS, MIN_SIDE, to_rgb
from demo import render

__all__ = ["DemoLogic", "load_photo", "check_k", "page_errors", "page_message", "K_MAX", "WORK_SIDE", "EDIT_SIDE",
           "AS_READ"]

log = logging.getLogger("demo")

K_MAX = 30  # matches per method
WORK_SIDE = 1024  # photos read or searched (and the overlays) are scaled to at most this many px, longest side
EDIT_SIDE = 4096  # photos edited are scaled to at most this (a 12-megapixel 4000x3000 phone photo: full size)
MAX_REQUEST = 500  # characters of a request
MAX_ECHO = 80  # characters of the user's own text repeated in a message
REGIONS = ("whole", "sleeves", "torso")
METHODS = ("amgan", "flam", "both")
AS_READ = "as read"  # a correction menu's "no correction": the models' own reading of that group
NO_IMAGE = "No image: upload a photo of a garment or pick one of the examples first."
INTERNAL = "Internal error: the demo failed on this request (a bug, not your mistake); see the server log."


# ---------------------------------------------------------------- messages
def shorten(text: str, limit: int = MAX_ECHO) -> str:
    """``text`` cut to ``limit`` characters, ending in "…" when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


_QUOTED = re.compile(r"'[^'\n]{%d,}'|\"[^\"\n]{%d,}\"" % (MAX_ECHO + 1, MAX_ECHO + 1))


def page_message(error: Exception | str, echoed=()) -> str:
    """A message for the page: quoted text over :data:`MAX_ECHO` characters and any of the
    ``echoed`` strings (the request as typed) shortened, the whole at most 600, HTML-escaped."""
    msg = str(error)
    for s in echoed:
        if isinstance(s, str) and len(s) > MAX_ECHO and s in msg:
            msg = msg.replace(s, shorten(s))
    msg = _QUOTED.sub(lambda m: m[0][0] + shorten(m[0][1:-1]) + m[0][0], msg)
    return html.escape(shorten(msg, 600), quote=False)


def shown(error: Exception | str, echoed=()) -> gr.Error:
    """A ``gr.Error`` the page shows as it is (no server traceback: it is the user's mistake)."""
    return gr.Error(page_message(error, echoed), print_exception=False)


def page_errors(fn):
    """UserError -> its message on the page; any other exception -> logged with its traceback,
    and :data:`INTERNAL` on the page (the details stay in the server log)."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except UserError as e:
            raise shown(e, args) from None
        except Exception:
            log.exception("internal error in %s", fn.__qualname__)
            raise gr.Error(INTERNAL, print_exception=False) from None

    return wrapped


# ---------------------------------------------------------------- inputs
def not_an_image(name: str, e: Exception) -> ImageError:
    return ImageError(f"Not an image: {shorten(name)} could not be read as a picture ({type(e).__name__}). "
                      "Upload a PNG, JPEG or WebP photo.")


def working_size(size: tuple[int, int], side: int = WORK_SIDE) -> tuple[int, int]:
    """(w, h) scaled so that the longest side is at most ``side`` (never enlarged)."""
    w, h = size
    s = min(1.0, side / max(w, h))
    return max(1, round(w * s)), max(1, round(h * s))


def _check_size(size, side: int = WORK_SIDE):
    w, h = size
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"The photo is {w}x{h} pixels; both sides must be at least {MIN_SIDE} pixels.")
    if w * h > MAX_PIXELS:
        raise ImageError(f"The photo is {w}x{h} pixels ({w * h / 1e6:.0f} megapixels); "
                         f"at most {MAX_PIXELS // 1_000_000} megapixels are accepted.")
    if min(working_size(size, side)) < MIN_SIDE:
        raise ImageError(f"The photo is {w}x{h} pixels: too narrow; scaled to {side} px on its longest side, "
                         f"both sides must still be at least {MIN_SIDE} pixels.")


def load_photo(image, side: int = WORK_SIDE) -> Image.Image:
    """An endpoint's image (a file path, or a PIL image) -> RGB PIL at the working size.

    The size is checked from the file header before decoding; a JPEG is then decoded at 1/2, 1/4
    or 1/8 scale when that still covers the working size; EXIF orientation is applied, transparency
    composited on white (:func:`amgan.image.to_rgb`), and the photo scaled to at most ``side`` px
    on its longest side. Mistakes (none, unreadable, too small, too large) raise ImageError.
    """
    if image is None or (isinstance(image, str) and not image.strip()):
        raise ImageError(NO_IMAGE)
    if isinstance(image, Image.Image):
        im = image
    else:
        path = Path(str(image))
        if not path.is_file():
            raise ImageError(NO_IMAGE)
        try:
            with Image.open(path) as f:
                _check_size(f.size, side)
                f.draft(None, working_size(f.size, side))  # JPEG: scaled decoding; other formats: no-op
                f.load()
                im = ImageOps.exif_transpose(f)  # a loaded copy
        except UserError:
            raise
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise not_an_image(path.name, e) from None
    _check_size(im.size, side)
    rgb = to_rgb(im)
    size = working_size(rgb.size, side)
    return rgb.resize(size, Image.LANCZOS, reducing_gap=3.0) if size != rgb.size else rgb


def check_k(k) -> int:
    """The number of matches: a whole number 1..K_MAX (an int, or a float such as 5.0)."""
    ok = (not isinstance(k, bool) and isinstance(k, (int, float)) and k == k and k == int(k)
          and 1 <= k <= K_MAX)
    if not ok:
        got = shorten(repr(k)) if isinstance(k, str) else repr(k)
        raise RequestError(f"k must be a whole number from 1 to {K_MAX} (the number of matches), got {got}.")
    return int(k)


def check_region(region) -> str:
    region = region or "whole"
    if region not in REGIONS:
        raise RequestError(f"Unknown region {shorten(str(region))!r}: choose {', '.join(REGIONS)}.")
    return region


def check_even(even) -> bool:
    """The "even colour" switch: a bool (None, as from an API call that leaves it out: off)."""
    if even is None:
        return False
    if isinstance(even, bool):
        return even
    raise RequestError(f"even must be true or false, got {shorten(str(even))!r}")


def check_method(method) -> str:
    if method not in METHODS:
        raise RequestError(f"Unknown method {shorten(str(method))!r}: choose amgan, flam or both.")
    return method


# ---------------------------------------------------------------- the endpoints
class DemoLogic:
    """The page's actions over an Editor and an optional Retriever, through the one edit-and-search
    pipeline (:class:`fir.pipeline.EditAndSearch`: whose reading each method starts from, its
    target, what a ✓ means). Stateless, so it serves concurrent users: the models are read-only."""

    def __init__(self, editor, retriever=None, search_off: str = "", flam_off: str = "", store=None):
        from fir.pipeline import EditAndSearch

        self.pipeline = EditAndSearch(editor, retriever)  # refuses parts that do not belong together
        self.editor, self.retriever, self.schema = editor, retriever, editor.schema
        self.store = store or render.PngStore()
        self.search_off = search_off or "catalogue search is not loaded (no embedder and gallery index)"
        self.flam_off = flam_off or "FLAM is not loaded (no FLAM checkpoint)"

    @property
    def has_flam(self) -> bool:
        return "flam" in self.pipeline.methods

    # ---- checks and readings
    def predicted(self, photo) -> tuple[dict, dict]:
        """-> (the editor's reading {group: value}, its probabilities {group: {value: p}}): the CAM classifier's,
        its colour read with the colour namer and its sleeves with the sleeve-shape model where the editor has them."""
        probs = self.editor.predict(photo)
        return {g: max(p, key=p.get) for g, p in probs.items()}, probs

    def parse_request(self, request) -> dict:
        """Instruction, ``group=value`` pairs, or a JSON object -> validated {group: value} in schema
        order (the order the editor applies them in, whatever order they were written in)."""
        text = (request or "").strip() if isinstance(request, str) else request
        if isinstance(text, str) and len(text) > MAX_REQUEST:
            raise RequestError(f"The request is {len(text)} characters long; at most {MAX_REQUEST} are accepted "
                               "(e.g. 'make it red with long sleeves').")
        if isinstance(text, str) and text.startswith("{"):
            try:
                text = json.loads(text)
            except json.JSONDecodeError as e:
                raise RequestError(f"The request looks like JSON but is not valid JSON ({e.msg}, character {e.pos}). "
                                   'Use e.g. {"color": "red"}, color=red or "make it red".') from None
        req = self.pipeline.parse(text if text is not None else "")
        return {g: req[g] for g in self.schema.names if g in req}

    def parse_source(self, source) -> dict:
        """The values a person knows about the photo, ``"sleeve=short, color=blue"`` (empty: none)
        -> validated {group: value} in schema order (:meth:`amgan.attributes.Schema.parse_values`,
        as the command lines' ``--source``); any group, category included. Both AMGAN and FLAM
        start from these values instead of their own reading of those groups."""
        if source is None or (isinstance(source, str) and not source.strip()):
            return {}
        if not isinstance(source, str):
            raise RequestError(f"The known values (source) must be text such as 'sleeve=short, color=blue', "
                               f"got {type(source).__name__}.")
        text = source.strip()
        if len(text) > MAX_REQUEST:
            raise RequestError(f"The known values (source) are {len(text)} characters long; at most {MAX_REQUEST} "
                               "are accepted (e.g. 'sleeve=short, color=blue').")
        try:
            known = self.schema.parse_values(text)
        except UserError as e:
            raise RequestError(f"Known values (source): {e}") from None
        return {g: known[g] for g in self.schema.names if g in known}

    def corrections(self, choices) -> dict:
        """The page's correction menus (one per group, schema order; :data:`AS_READ` = no
        correction) -> {group: value}."""
        return self.schema.validate_values({g: v for g, v in zip(self.schema.names, choices)
                                            if v and v != AS_READ})

    def check_edit(self, request, region) -> tuple[dict, str]:
        req, region = self.parse_request(request), check_region(region)
        if region != "whole" and "sleeve" in req:
            raise RequestError("A region edit changes color or pattern inside the sleeves or the torso; it cannot "
                               "change the sleeve length itself. Choose the region 'whole' for a sleeve edit.")
        return req, region

    def need_search(self):
        if self.retriever is None:
            raise RequestError(f"Catalogue search is off: {self.search_off}.")

    def _images(self, photo, res) -> list[str]:
        """An EditResult on ``photo`` -> [edited (full size), mask overlay, CAM overlay (at most
        :data:`WORK_SIDE` px)] as PNG paths."""
        view = photo if max(photo.size) <= WORK_SIDE else photo.resize(working_size(photo.size), Image.BILINEAR,
                                                                        reducing_gap=2.0)
        images = [res.image, render.mask_overlay(view, res.mask), render.cam_overlay(view, res.cam)]
        return [self.store(im, n) for im, n in zip(images, ("edited", "mask", "cam"))]

    def _search(self, image, k):
        t0 = time.perf_counter()
        k = check_k(k)
        self.need_search()
        res = self.pipeline.search(load_photo(image), k)
        gallery, rows = render.gallery_and_matches(res.hits, self.schema, self.store)
        info = {"k": k, "matches": rows,
                "timings_ms": {"search": render.ms(res.timings), "total": round((time.perf_counter() - t0) * 1000, 1)}}
        return gallery, info

    # ---- UI-only actions
    @page_errors
    def analyse(self, image):
        """New photo -> [predicted-attributes table, one preset per edit menu, the classifier's values
        {group: value}, every correction menu back to :data:`AS_READ`, what search sees of the photo (a PNG path;
        None when search is off)]."""
        reset = [gr.update(value=AS_READ) for _ in self.schema.groups]
        if image is None:
            return [[]] + [gr.update() for _ in self.schema.manipulable] + [{}] + reset + [None]
        photo = load_photo(image)
        read = self.pipeline.read(photo)  # the CAM classifier's and FLAM's readings
        probs = read["classifier"]
        values = {g: max(p, key=p.get) for g, p in probs.items()}
        flam = {g: f"{max(p, key=p.get)} {max(p.values()):.0%}" for g, p in read.get("flam", {}).items()}
        table = render.attribute_table(self.schema, probs, flam)
        # the garment cut the search embeds (kept by the Retriever: the search after it does not cut again)
        seen = self.store(self.retriever.view(photo), "search_view") if self.retriever is not None else None
        return [table] + [gr.update(value=values[g.name]) for g in self.schema.manipulable] + [values] + reset + [seen]

    @staticmethod
    def menu_after_correction(group: str, choice, values: dict):
        """A correction menu changed -> the edit menu of that group shows the corrected value (or,
        back at :data:`AS_READ`, the classifier's value), so only real changes are requested."""
        value = (values or {}).get(group) if choice in (None, "", AS_READ) else choice
        return gr.update(value=value) if value else gr.update()

    @page_errors
    def compose_request(self, image, instruction, *menu_values, source=None) -> str:
        """The instruction when given, else the menu values that differ from the photo's values (the
        prediction with the known values ``source`` put in) -> 'g=v, ...'."""
        if isinstance(instruction, str) and instruction.strip():
            request = self.parse_request(instruction)
        else:
            values, _ = self.predicted(load_photo(image))
            values.update(source or {})
            request = {g.name: v for g, v in zip(self.schema.manipulable, menu_values) if v and v != values[g.name]}
            if not request:
                raise RequestError("Nothing requested: every menu still shows the photo's value (as read, or as "
                                   "you corrected it). Choose another value in a menu or type an instruction such "
                                   "as 'make it red with long sleeves'.")
            request = self.parse_request(request)
        return render.request_text(request)

    @page_errors
    def compose(self, image, instruction, *choices) -> tuple[str, str]:
        """The page's step before an edit: (edit menus, then correction menus) -> ("Request sent",
        "Known values sent"), both 'g=v, ...'."""
        n = len(self.schema.manipulable)
        source = self.corrections(choices[n:])
        return self.compose_request(image, instruction, *choices[:n], source=source), render.request_text(source)

    @page_errors
    def baseline(self, image, k):
        """The photo as it is, searched: only its gallery (shown beside an edit's matches)."""
        if image is None or self.retriever is None:
            return []
        return self._search(image, k)[0]

    # ---- named endpoints
    @page_errors
    def edit(self, image, request, region, source="", even=False):
        """/edit(image, request, region, source, even) -> (edited, mask overlay, cam overlay, info).
        ``source``: values known about the photo ("sleeve=short"), put in the classifier's reading;
        ``even``: a whole-garment colour edit becomes one dye over the garment (``Editor.edit``'s
        ``colour_spread=1``; off: the model's own setting)."""
        t0 = time.perf_counter()
        even = check_even(even)
        photo = load_photo(image, EDIT_SIDE)
        req, region = self.check_edit(request, region)
        known = self.parse_source(source)
        res = self.pipeline.edit(photo, req, region=region, source=known or None, colour_spread=1.0 if even else None)
        info = {"request": req, "region": res.region, "even_colour": even, "source": known, "method": res.method,
                "amgan_source": res.source_attributes,
                "predicted": res.source_attributes, "target": res.target_attributes, "size": list(photo.size),
                "notes": list(res.caveats),
                "timings_ms": {"edit": render.ms(res.timings),
                               "total": round((time.perf_counter() - t0) * 1000, 1)}}
        return (*self._images(photo, res), info)

    @page_errors
    def search(self, image, k):
        """/search(image, k) -> (gallery, info): the photo as it is."""
        return self._search(image, k)

    @page_errors
    def edit_and_search(self, image, request, region, method, k, source="", even=False):
        """/edit_and_search(image, request, region, method, k, source, even)
        -> (edited, mask overlay, cam overlay, AMGAN gallery, FLAM gallery, info).

        ``source``: values known about the photo ("sleeve=short, color=blue"; empty: none); both
        methods start from them instead of their own reading of those groups (``info["source"]``;
        what each started from: ``info["amgan_source"]``, ``info["flam_source"]``).
        A match's ✓ is judged against the target of the method that found it: AMGAN's is the CAM
        classifier's reading with the known values, plus the request (``info["target"]``), FLAM's
        is FLAM's own reading with the known values, plus the request (``info["flam_target"]``),
        the attributes it searched for.
        """
        t0 = time.perf_counter()
        k, method, even = check_k(k), check_method(method), check_even(even)
        self.need_search()
        if method != "amgan" and not self.has_flam:
            raise RequestError(f"FLAM is off: {self.flam_off}. Choose the method 'amgan'.")
        photo = load_photo(image, EDIT_SIDE)
        req, region = self.check_edit(request, region)
        known = self.parse_source(source)
        info: dict = {"request": req, "region": region, "even_colour": even, "method": method, "k": k,
                      "source": known, "notes": []}
        times: dict = {}
        images, amgan_gallery, flam_gallery = [None, None, None], [], []
        if method == "flam":  # the classifier's reading, for the JSON (FLAM starts from its own)
            t = time.perf_counter()
            read, _ = self.predicted(photo)
            times["predict"] = round((time.perf_counter() - t) * 1000, 1)
            read.update(known)
            info.update(predicted=read, target={**read, **req})
        out = self.pipeline.run(photo, req, method=method, region=None if method == "flam" else region,
                                source=known or None, k=k, colour_spread=1.0 if even else None)
        if "amgan" in out.results:
            r = out.results["amgan"]
            images = self._images(photo, r.edit)
            times["edit"] = render.ms(r.edit.timings)
            times["search"] = render.ms({s: v for s, v in r.timings.items() if s != "edit"})
            info.update(amgan_source=r.source, predicted=r.source, target=r.target)
            info["notes"] += r.edit.caveats
            amgan_gallery, info["amgan"] = render.gallery_and_matches(r.hits, self.schema, self.store, r.matches)
        if "flam" in out.results:
            # FLAM reads the source attributes off the search feature itself (its embedders saw street
            # and shop photos; the CAM classifier only catalogue shots), as in training and `fir evaluate`
            r = out.results["flam"]
            info.update(flam_source=r.source, flam_target=r.target)
            flam_gallery, info["flam"] = render.gallery_and_matches(r.hits, self.schema, self.store, r.matches)
            times["flam"] = render.ms(r.timings)
            if region != "whole":
                info["notes"].append("FLAM edits the feature of the whole garment: the region applies to AMGAN only.")
        times["total"] = round((time.perf_counter() - t0) * 1000, 1)
        info["timings_ms"] = times
        return (*images, amgan_gallery, flam_gallery, info)
