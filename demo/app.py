"""The Gradio web demo: "this, but red" on a garment photo, and the catalogue items that match.

    make demo                                      # = python -m demo.app -> http://127.0.0.1:7860
    python -m demo.app --flam none --port 7861     # FLAM off, another port
    python -m demo.app --screenshot docs/demo.png  # the README screenshot, via headless Chromium

``python -m demo.app`` makes the SynthFashion data set when it is missing (as ``make data``),
loads the shipped checkpoints, builds the gallery index when it is missing or was built by
another embedder, and serves the page on 127.0.0.1 (no share link, no telemetry, nothing
fetched from the network). FIR and FLAM are optional: without them the page says so and the
editing still works.

Named API endpoints (``gradio_client.Client(url).predict(..., api_name="/edit")``). ``image``
is a file (``gradio_client.handle_file(path)``); ``request`` is an instruction ("make it red
with long sleeves"), ``group=value`` pairs ("color=red, sleeve=long") or a JSON object
('{"color": "red"}'); ``region`` is ``whole``, ``sleeves`` or ``torso``; ``method`` is
``amgan``, ``flam`` or ``both``; ``k`` is 1..30. Images come back as PNG files; a gallery is
a list of ``{"image": ..., "caption": "#rank score [✓] attribute values"}`` (✓: the item has
every target attribute); ``info`` is JSON with the request, predicted and target attributes,
the matches (rank, id, score, product_id, attributes) and the time of each step in ms.

- ``/edit(image, request, region) -> (edited, mask_overlay, cam_overlay, info)``
- ``/search(image, k) -> (gallery, info)``: the photo as it is
- ``/edit_and_search(image, request, region, method, k) -> (edited, mask_overlay, cam_overlay,
  amgan_gallery, flam_gallery, info)``: AMGAN edits the photo, then FIR searches with the
  edit; FLAM edits the photo's FIR feature instead (from its own reading of the photo's
  attributes, ``info["flam_source"]``, with its calibrated edit strength); ``both`` runs the
  two side by side.

Mistakes (no image, not an image, unknown attribute or value, nothing requested, bad k, a
region with a sleeve edit, FLAM or search not loaded) come back as ``gr.Error`` messages.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import html
import io
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no telemetry, no version check

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageOps, UnidentifiedImageError  # noqa: E402

__all__ = ["build_demo", "DemoLogic", "launch_demo", "load_retriever", "example_images", "main"]

log = logging.getLogger("demo")

REGIONS = [("Whole garment", "whole"), ("Sleeves only", "sleeves"), ("Torso only", "torso")]
METHODS = [("AMGAN: edit the photo, then search", "amgan"), ("FLAM: edit the search feature", "flam"),
           ("Both, side by side", "both")]
K_MAX = 30
DEFAULTS = {"editor": "checkpoints/amgan_synth64/editor.pt", "embedder": "checkpoints/fir_synth64/embedder.pt",
            "flam": "checkpoints/flam_synth64/flam.pt", "data": "data/synth64", "index": "runs/demo_gallery"}
SYNTH_DEFAULT = {"products": 3000, "seed": 0, "size": 64, "street_views": 2, "with_edits": True}  # = `make data`
CSS = """
#photo img, #edited img, #mask img, #cam img { width: 100%; height: 100%; object-fit: contain; }
.pixelated img { image-rendering: pixelated; }
.matches .grid-wrap { min-height: 0 !important; max-height: none !important; }
.matches .thumbnail-item { display: flex; flex-direction: column; aspect-ratio: auto !important; }
.matches .thumbnail-item img { aspect-ratio: 1; }
.matches .caption-label { position: static !important; white-space: normal !important; max-width: none !important;
                          text-overflow: clip !important; font-size: 0.8em !important; line-height: 1.25;
                          background: none !important; padding: 2px 4px !important; }
#timings { font-size: 0.9em; }
"""
NO_IMAGE = "No image: upload a photo of a garment or pick one of the examples first."


# ---------------------------------------------------------------- input
class UserError(gr.Error):
    """A user's mistake: shown as a message in the page (HTML-escaped), no server traceback."""

    def __init__(self, message: str):
        super().__init__(html.escape(str(message), quote=False), print_exception=False)


def _not_an_image(name: str, e: Exception) -> UserError:
    return UserError(f"Not an image: {name} could not be read as a picture ({type(e).__name__}). "
                     "Upload a PNG, JPEG or WebP photo.")


class PhotoInput(gr.Image):
    """``gr.Image`` (same front end) whose unreadable uploads become a clear message."""

    is_template = True

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
            raise _not_an_image(getattr(payload, "orig_name", None) or "the upload", e) from None


def load_photo(image) -> Image.Image:
    """An endpoint's image argument (a file path from gr.Image, or a PIL image) -> PIL; mistakes -> gr.Error."""
    if image is None or (isinstance(image, str) and not image.strip()):
        raise UserError(NO_IMAGE)
    if isinstance(image, Image.Image):
        return image
    try:
        with Image.open(image) as im:
            im.load()
            return ImageOps.exif_transpose(im)
    except FileNotFoundError:
        raise UserError(NO_IMAGE) from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise _not_an_image(Path(str(image)).name, e) from None


def user_errors(fn):
    """Turn the library's ValueErrors (SchemaError, bad sizes, region rules) into gr.Error messages."""

    @functools.wraps(fn)
    def wrapped(*args):
        try:
            return fn(*args)
        except gr.Error:
            raise
        except ValueError as e:
            raise UserError(str(e)) from None

    return wrapped


# ---------------------------------------------------------------- presentation
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


def _ms(timings: dict) -> dict:
    return {k: round(float(v) * 1000, 1) for k, v in timings.items()}


def timings_markdown(info) -> str:
    """One line per step from ``info["timings_ms"]`` ({step: {stage: ms} or ms})."""
    t = (info or {}).get("timings_ms") or {}
    parts = []
    for step, v in t.items():
        if isinstance(v, dict):
            stages = ", ".join(f"{k} {ms:.1f}" for k, ms in v.items())
            parts.append(f"**{step}** {sum(v.values()):.1f} ms ({stages})")
        elif step != "total":
            parts.append(f"**{step}** {v:.1f} ms")
    if "total" in t:
        parts.append(f"**total** {t['total']:.1f} ms")
    return "Time on the server: " + " · ".join(parts) if parts else ""


class PngStore:
    """The page's images as PNG files named by their content hash, each written atomically.

    Gradio 6.31 caches a returned PIL image by truncating and rewriting a file named by its
    hash (``processing_utils.save_pil_to_cache``), so two users who get the same image at the
    same moment (a catalogue item, an example's edit) can be served a half-written file. Paths
    are copied into gradio's cache atomically, so the demo returns paths from here instead.
    Files live under the system temp folder (which gradio serves from) until the process ends.
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="amgan_demo_"))
        self._thumbs: dict[str, str] = {}

    def __call__(self, image: Image.Image, name: str = "image") -> str:
        """-> the path of ``image`` as ``<root>/<content hash>/<name>.png`` (the download's file name)."""
        from amgan.io import atomic_write_bytes

        buf = io.BytesIO()
        image.save(buf, format="PNG")
        data = buf.getvalue()
        path = self.root / hashlib.sha256(data).hexdigest()[:32] / f"{name}.png"
        if not path.exists():
            atomic_write_bytes(path, data)
        return str(path)

    def thumb(self, path: str) -> str:
        """A catalogue image (any readable file) as a stored PNG; a grey tile when it is missing."""
        if path not in self._thumbs:
            try:
                with Image.open(path) as im:
                    self._thumbs[path] = self(im.convert("RGB"), Path(path).stem)
            except OSError:
                return self(Image.new("RGB", (64, 64), (200, 200, 200)), "missing")
        return self._thumbs[path]


def gallery_and_matches(hits, schema, store: PngStore, target: dict | None = None) -> tuple[list, list[dict]]:
    """Hits -> (gallery [(png path, caption)], JSON rows). Caption: ``#rank score [✓] values``."""
    gallery, rows = [], []
    for h in hits:
        attrs = dict(h.item.get("attributes", {}))
        ok = bool(target) and all(attrs.get(g) == v for g, v in target.items())
        values = " ".join(attrs[g] for g in schema.names if g in attrs)
        score = round(float(h.score), 3)  # one rounding for caption and JSON, so they always agree
        gallery.append((store.thumb(str(h.item.get("path", ""))),
                        f"#{h.rank + 1} {score:.3f} {'✓ ' if ok else ''}{values}"))
        rows.append({"rank": h.rank + 1, "id": int(h.id), "score": score,
                     "product_id": h.item.get("product_id"), "attributes": attrs,
                     **({"has_target": ok} if target else {})})
    return gallery, rows


# ---------------------------------------------------------------- what the endpoints do
class DemoLogic:
    """The endpoint functions over an Editor and an optional Retriever. Stateless, so it serves
    concurrent users: the models are read-only and every call runs under ``torch.no_grad``."""

    def __init__(self, editor, retriever=None, search_off: str = "", flam_off: str = ""):
        self.editor, self.retriever, self.schema = editor, retriever, editor.schema
        self.store = PngStore()
        self.search_off = search_off or "catalogue search is not loaded (no embedder and gallery index)"
        self.flam_off = flam_off or "FLAM is not loaded (no FLAM checkpoint)"

    @property
    def has_flam(self) -> bool:
        return self.retriever is not None and self.retriever.flam is not None

    # ---- helpers
    def predicted(self, photo) -> tuple[dict, dict]:
        """-> (argmax values {group: value}, probabilities {group: {value: p}})."""
        probs = self.editor.predict(photo)
        return {g: max(p, key=p.get) for g, p in probs.items()}, probs

    def parse_request(self, request) -> dict:
        """Instruction, ``group=value`` pairs, or a JSON object -> validated {group: value} in schema
        order (the order the editor applies them in, whatever order they were written in)."""
        text = (request or "").strip() if isinstance(request, str) else request
        if isinstance(text, str) and text.startswith("{"):
            try:
                text = json.loads(text)
            except json.JSONDecodeError as e:
                raise UserError(f"The request looks like JSON but is not valid JSON ({e.msg}, character {e.pos}). "
                                'Use e.g. {"color": "red"}, color=red or "make it red".') from None
        req = self.schema.parse_edit(text) if isinstance(text, str) or text is None else self.schema.validate_edit(text)
        return {g: req[g] for g in self.schema.names if g in req}

    def check_k(self, k) -> int:
        if k is None or isinstance(k, bool) or not isinstance(k, (int, float)) or k != int(k) or not 1 <= k <= K_MAX:
            raise UserError(f"k (the number of matches) must be a whole number from 1 to {K_MAX}, got {k!r}.")
        return int(k)

    def need_search(self):
        if self.retriever is None:
            raise UserError(f"Catalogue search is off: {self.search_off}.")

    def _edit(self, photo, request: dict, region) -> tuple[list, dict, object]:
        res = self.editor.edit(photo, request, region or "whole")
        from amgan.editor import to_rgb

        rgb = to_rgb(photo)
        images = [res.image, mask_overlay(rgb, res.mask), cam_overlay(rgb, res.cam)]
        return [self.store(im, n) for im, n in zip(images, ("edited", "mask", "cam"))], _ms(res.timings), res

    # ---- UI-only steps
    @user_errors
    def analyse(self, image):
        """New photo -> (predicted-attributes table, one preset per menu)."""
        if image is None:
            return [[]] + [gr.update() for _ in self.schema.manipulable]
        photo = load_photo(image)
        values, probs = self.predicted(photo)
        flam_read = {}
        if self.has_flam:  # FLAM's embedders read the search feature (trained on street and shop photos)
            fl = self.retriever.flam
            fprobs = fl.predict_probs(self.retriever.embed(photo)[None])
            for gi, name in enumerate(fl.schema.names):
                j = int(fprobs[gi][0].argmax())
                flam_read[name] = f"{fl.schema.groups[gi].values[j]} {fprobs[gi][0][j]:.0%}"
        table = []
        for g in self.schema.groups:
            ranked = sorted(probs[g.name].items(), key=lambda kv: -kv[1])
            table.append([g.name, *(f"{v} {p:.0%}" for v, p in ranked[:2]), flam_read.get(g.name, "-")])
        return [table] + [gr.update(value=values[g.name]) for g in self.schema.manipulable]

    @user_errors
    def compose_request(self, image, instruction, *menu_values) -> str:
        """The instruction when given, else the menu values that differ from the prediction -> 'g=v, ...'."""
        if isinstance(instruction, str) and instruction.strip():
            request = self.parse_request(instruction)
        else:
            values, _ = self.predicted(load_photo(image))
            request = {g.name: v for g, v in zip(self.schema.manipulable, menu_values) if v and v != values[g.name]}
            if not request:
                raise UserError("Nothing requested: every menu still shows the predicted value. Choose another "
                                "value in a menu or type an instruction such as 'make it red with long sleeves'.")
            request = self.parse_request(request)
        return ", ".join(f"{g}={v}" for g, v in request.items())

    # ---- named endpoints
    @user_errors
    def edit(self, image, request, region):
        """/edit(image, request, region) -> (edited, mask overlay, cam overlay, info)."""
        t0 = time.perf_counter()
        photo, req = load_photo(image), self.parse_request(request)
        images, ms, res = self._edit(photo, req, region)
        info = {"request": req, "region": res.region, "predicted": res.source_attributes,
                "target": {**res.source_attributes, **req},
                "timings_ms": {"edit": ms, "total": round((time.perf_counter() - t0) * 1000, 1)}}
        return (*images, info)

    @user_errors
    def search(self, image, k):
        """/search(image, k) -> (gallery, info): the photo as it is."""
        t0 = time.perf_counter()
        k = self.check_k(k)
        self.need_search()
        res = self.retriever.search(load_photo(image), k)
        gallery, rows = gallery_and_matches(res.hits, self.schema, self.store)
        info = {"k": k, "matches": rows,
                "timings_ms": {"search": _ms(res.timings), "total": round((time.perf_counter() - t0) * 1000, 1)}}
        return gallery, info

    @user_errors
    def edit_and_search(self, image, request, region, method, k):
        """/edit_and_search(image, request, region, method, k)
        -> (edited, mask overlay, cam overlay, AMGAN gallery, FLAM gallery, info)."""
        t0 = time.perf_counter()
        k = self.check_k(k)
        if method not in ("amgan", "flam", "both"):
            raise UserError(f"Unknown method {method!r}: choose amgan, flam or both.")
        self.need_search()
        if method != "amgan" and not self.has_flam:
            raise UserError(f"FLAM is off: {self.flam_off}. Choose the method 'amgan'.")
        photo, req = load_photo(image), self.parse_request(request)
        region = region or "whole"
        info: dict = {"request": req, "region": region, "method": method, "k": k, "notes": []}
        times: dict = {}
        images, amgan_gallery, flam_gallery = [None, None, None], [], []
        if method in ("amgan", "both"):
            images, times["edit"], res = self._edit(photo, req, region)
            source = res.source_attributes
            found = self.retriever.search(res.image, k)
            times["search"] = _ms(found.timings)
        else:
            t = time.perf_counter()
            source, _ = self.predicted(photo)
            times["predict"] = round((time.perf_counter() - t) * 1000, 1)
        target = {**source, **req}
        info.update(predicted=source, target=target)
        if method in ("amgan", "both"):
            amgan_gallery, info["amgan"] = gallery_and_matches(found.hits, self.schema, self.store, target)
        if method in ("flam", "both"):
            # FLAM reads the source attributes off the search feature itself (its embedders saw street
            # and shop photos; the CAM classifier only catalogue shots), as in training and `fir evaluate`
            fres = self.retriever.flam_search(photo, req, k=k)
            flam_gallery, info["flam"] = gallery_and_matches(fres.hits, self.schema, self.store, target)
            info["flam_source"] = fres.source
            times["flam"] = _ms(fres.timings)
            if region != "whole":
                info["notes"].append("FLAM edits the feature of the whole garment: the region applies to AMGAN only.")
        times["total"] = round((time.perf_counter() - t0) * 1000, 1)
        info["timings_ms"] = times
        return (*images, amgan_gallery, flam_gallery, info)


# ---------------------------------------------------------------- the page
def build_demo(editor, retriever=None, *, examples=(), notes=(), k: int = 8, search_off: str = "",
               flam_off: str = "", concurrency: int = 2) -> gr.Blocks:
    """The demo page over an :class:`amgan.Editor` and an optional :class:`fir.retriever.Retriever`.

    ``examples``: image paths offered as gr.Examples; ``notes``: lines shown at the top (e.g.
    why FLAM is off); ``search_off``/``flam_off``: the reason given when search/FLAM are used
    but not loaded. The returned Blocks has its queue set (``concurrency`` calls at a time).
    """
    logic = DemoLogic(editor, retriever, search_off, flam_off)
    schema = editor.schema
    has_search, has_flam = retriever is not None, logic.has_flam
    with gr.Blocks(title="AMGAN + FIR: this, but red", analytics_enabled=False) as demo:
        gr.Markdown("## This, but red: attribute editing with AMGAN, catalogue search with FIR and FLAM\n"
                    "Upload a garment photo or pick an example, choose what to change (menus or an instruction), "
                    "then **Edit and search**. AMGAN edits the photo and the edit is searched in the catalogue; "
                    "FLAM edits the photo's search feature instead. "
                    "✓ in a caption: the item has every target attribute.")
        for line in notes:
            gr.Markdown(f"**Note:** {line}", elem_classes="note")
        with gr.Row(equal_height=False):
            with gr.Column(scale=4):
                image = PhotoInput(label="Photo", type="filepath", image_mode=None, format="png", height=320,
                                   sources=["upload", "clipboard"], elem_id="photo", elem_classes="pixelated")
                if examples:
                    gr.Examples([[str(p)] for p in examples], inputs=[image], examples_per_page=len(examples),
                                label="Examples (test split: street photos, then catalogue shots)", elem_id="examples")
            with gr.Column(scale=4):
                predicted = gr.Dataframe(headers=["attribute", "predicted", "runner-up", "FLAM reads"],
                                         column_widths=["22%", "26%", "26%", "26%"], wrap=True,
                                         label="Predicted attributes", interactive=False, elem_id="predicted")
                instruction = gr.Textbox(label="Instruction (wins over the menus when filled)",
                                         placeholder="make it red with long sleeves", elem_id="instruction")
                menus = []
                for i in range(0, len(schema.manipulable), 2):  # two menus per row
                    with gr.Row():
                        menus += [gr.Dropdown(list(g.values), value=None, label=g.name, elem_id=f"menu-{g.name}",
                                              min_width=120) for g in schema.manipulable[i:i + 2]]
            with gr.Column(scale=3):
                region = gr.Radio(REGIONS, value="whole", label="Region (colour and pattern edits)", elem_id="region")
                method = gr.Radio(METHODS, value="both" if has_flam else "amgan", interactive=has_flam,
                                  label="Method" + ("" if has_flam else " (FLAM is off)"), elem_id="method")
                k_slider = gr.Slider(1, K_MAX, value=min(k, K_MAX), step=1, label="Matches (k)",
                                     elem_id="k")
                go = gr.Button("Edit and search", variant="primary", elem_id="go", interactive=has_search)
                with gr.Row():
                    edit_only = gr.Button("Edit only", elem_id="edit-only", size="sm")
                    search_plain = gr.Button("Search the photo as is", elem_id="search-plain", size="sm",
                                             interactive=has_search)
                request_box = gr.Textbox(label="Request sent", interactive=False, elem_id="request")
        with gr.Row():
            shown = dict(format="png", interactive=False, height=260, buttons=["download", "fullscreen"],
                         elem_classes="pixelated")
            edited = gr.Image(label="Edited (AMGAN)", elem_id="edited", **shown)
            mask = gr.Image(label="Attention mask over the input (red)", elem_id="mask", **shown)
            cam = gr.Image(label="CAM of the current value (blue low, red high)", elem_id="cam", **shown)
        gal = dict(format="png", columns=8, height="auto", object_fit="contain", interactive=False, allow_preview=True,
                   buttons=["fullscreen"], elem_classes="matches")
        gal_amgan = gr.Gallery(label="Matches: AMGAN edit, then search", elem_id="gallery-amgan", **gal)
        gal_flam = gr.Gallery(label="Matches: FLAM feature edit", elem_id="gallery-flam", visible=has_flam, **gal)
        gal_plain = gr.Gallery(label="Matches: the photo as it is", elem_id="gallery-plain", **gal)
        timings = gr.Markdown(elem_id="timings")
        with gr.Accordion("Details (JSON: request, attributes, matches, timings)", open=False):
            info = gr.JSON(label="info", elem_id="info")

        outputs_cleared = [edited, mask, cam, gal_amgan, gal_flam, gal_plain, info, timings, request_box]
        image.change(lambda im: [*logic.analyse(im), *([None] * 3), [], [], [], None, "", ""], image,
                     [predicted, *menus, *outputs_cleared], api_visibility="private")
        compose = dict(fn=logic.compose_request, inputs=[image, instruction, *menus], outputs=request_box,
                       api_visibility="private")
        show_time = dict(fn=timings_markdown, inputs=info, outputs=timings, api_visibility="private")
        gr.on([go.click, instruction.submit], **compose).success(
            logic.edit_and_search, [image, request_box, region, method, k_slider],
            [edited, mask, cam, gal_amgan, gal_flam, info], api_name="edit_and_search").success(**show_time)
        edit_only.click(**compose).success(logic.edit, [image, request_box, region], [edited, mask, cam, info],
                                           api_name="edit").success(**show_time)
        search_plain.click(logic.search, [image, k_slider], [gal_plain, info], api_name="search").success(**show_time)
    demo.queue(default_concurrency_limit=concurrency)
    return demo


def launch_demo(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, **kw):
    """Serve ``demo`` locally: no share link, no server-side rendering (no node), uploads up to 25 MB."""
    return demo.launch(server_name=host, server_port=port, share=False, ssr_mode=False, css=CSS,
                       footer_links=["api"], max_file_size="25mb", **kw)


# ---------------------------------------------------------------- start-up
def ensure_synth_data(root: str | Path) -> Path:
    """``root`` when it holds a manifest; else render SynthFashion there like ``make data``."""
    root = Path(root)
    if (root / "manifest.csv").is_file():
        return root
    if root.exists() and any(root.iterdir()):
        raise FileNotFoundError(f"{root} exists but has no manifest.csv; point --data at a data set folder")
    from amgan.data.synth_dataset import generate

    log.info("making the SynthFashion data set in %s (%s)", root, SYNTH_DEFAULT)
    generate(root, SYNTH_DEFAULT["products"], seed=SYNTH_DEFAULT["seed"], size=SYNTH_DEFAULT["size"],
             street_views=SYNTH_DEFAULT["street_views"], with_edits=SYNTH_DEFAULT["with_edits"])
    return root


def load_retriever(embedder, index_dir, data, flam=None, progress: bool = True, split: str | None = "test"):
    """-> (Retriever or None, notes, search_off reason, flam_off reason).

    Builds the gallery index (``split``, shop view) when it is missing, unreadable or was built
    by another embedder. FLAM is attached when its checkpoint exists and matches the embedder.
    """
    from amgan.checkpoint import file_sha256
    from fir.cli import build_index
    from fir.index import IndexFileError, IndexMismatchError
    from fir.retriever import Retriever

    notes, search_off, flam_off = [], "", ""
    if not embedder or not Path(embedder).is_file():
        search_off = f"no embedder checkpoint at {embedder} (train one with `fir train`)"
        return None, [f"Catalogue search is off: {search_off}. Editing works."], search_off, "search is off"
    try:
        retriever = Retriever.from_paths(embedder, index_dir)
    except (FileNotFoundError, IndexFileError, IndexMismatchError) as e:  # missing, unreadable, another model's
        log.info("building the gallery index in %s: %s", index_dir, e)
        build_index(embedder, data, index_dir, split=split, view="shop", progress=progress)
        retriever = Retriever.from_paths(embedder, index_dir)
    if not flam or str(flam).lower() == "none":
        flam_off = "disabled with --flam none"
    elif not Path(flam).is_file():
        flam_off = f"no FLAM checkpoint at {flam} (train one with `fir train-flam`)"
    else:
        try:
            from fir.flam import load_flam

            retriever.flam = load_flam(flam, expect_embedder_id=file_sha256(embedder))
        except (ValueError, ImportError) as e:
            flam_off = f"{flam} cannot be used: {e}"
    if flam_off:
        notes.append(f"FLAM (feature-level edits) is off: {flam_off}. AMGAN editing and search work.")
    return retriever, notes, search_off, flam_off


def example_images(data, n_street: int = 4, n_shop: int = 2) -> list[str]:
    """Test-split images with distinct colours: ``n_street`` street photos, then ``n_shop`` shop shots."""
    from amgan.data.manifest import read_manifest

    m = read_manifest(Path(data) / "manifest.csv", check_files=False)
    color = m.schema.group_index("color") if "color" in m.schema.names else 0
    out, products = [], set()
    for view, n in (("street", n_street), ("shop", n_shop)):
        colors: set[int] = set()
        for i in m.indices("test", view):
            c = int(m.labels[i][color])
            if len(colors) < n and c not in colors and m.product_ids[i] not in products:
                colors.add(c)
                products.add(m.product_ids[i])
                out.append(str(m.image_path(i)))
    return out


def browser_screenshot(url: str, image: str | Path, out: str | Path, color: str = "red",
                       timeout_ms: int = 60_000) -> Path:
    """Drive the page in headless Chromium: upload, search as is, choose ``color``, Edit and search, save a PNG."""
    from playwright.sync_api import sync_playwright

    from amgan.io import atomic_write_bytes

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(url, timeout=timeout_ms)
            page.locator("#photo input[type=file]").set_input_files(str(image))
            page.locator("#predicted").get_by_text("color", exact=True).wait_for(timeout=timeout_ms)
            page.locator("#search-plain").click()  # the photo as it is, for comparison
            page.locator("#gallery-plain img").first.wait_for(timeout=timeout_ms)
            page.locator("#menu-color input").click()
            page.get_by_role("option", name=color, exact=True).click()
            page.locator("#go").click()
            page.locator("#gallery-amgan img").first.wait_for(timeout=timeout_ms)
            page.locator("#edited img").first.wait_for(timeout=timeout_ms)
            page.locator("#timings").get_by_text("total").wait_for(timeout=timeout_ms)
            png = page.screenshot(full_page=True)
        finally:
            browser.close()
    return atomic_write_bytes(out, png)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m demo.app", description="The AMGAN + FIR Gradio demo")
    p.add_argument("--editor", default=DEFAULTS["editor"], help="AMGAN editor.pt")
    p.add_argument("--embedder", default=DEFAULTS["embedder"], help="FIR embedder.pt (missing: search is off)")
    p.add_argument("--flam", default=DEFAULTS["flam"], help="FLAM flam.pt (missing or 'none': FLAM is off)")
    p.add_argument("--data", default=DEFAULTS["data"], help="data set folder (SynthFashion is made when missing)")
    p.add_argument("--index", default=DEFAULTS["index"], help="gallery index folder (built when missing)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--k", type=int, default=8, help="matches shown by default")
    p.add_argument("--screenshot", metavar="PNG", help="serve, drive headless Chromium, save a screenshot, exit")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="demo: %(message)s")
    log.setLevel(logging.INFO)
    t0 = time.perf_counter()
    try:
        from amgan.editor import Editor

        data = ensure_synth_data(args.data)
        editor = Editor.from_checkpoint(args.editor)
        retriever, notes, search_off, flam_off = load_retriever(args.embedder, args.index, data, args.flam)
        examples = example_images(data)
    except (ValueError, FileNotFoundError) as e:
        print(f"demo: error: {e}", file=sys.stderr)
        return 2
    for n in notes:
        log.info("%s", n)
    demo = build_demo(editor, retriever, examples=examples, notes=notes, k=args.k, search_off=search_off,
                      flam_off=flam_off)
    log.info("ready in %.1f s: http://%s:%d", time.perf_counter() - t0, args.host, args.port)
    if args.screenshot:
        launch_demo(demo, args.host, args.port, prevent_thread_lock=True, quiet=True)
        try:
            out = browser_screenshot(f"http://{args.host}:{args.port}", examples[0], args.screenshot)
            log.info("wrote %s", out)
        finally:
            demo.close()
        return 0
    launch_demo(demo, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
