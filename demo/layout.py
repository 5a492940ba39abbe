"""The page: components and wiring only (what each action computes is in :mod:`demo.handlers`).

Every button first clears all results, then fills what it computes, so nothing from an earlier
request stays on the page. The model steps share one queue slot group (``concurrency`` at a
time); at most ``max_queue`` requests wait, and one more gets Gradio's queue-full answer
("This application is currently busy. Please try again." in the page; ``QueueError: Queue is
full! Please try again.`` in gradio_client). Gradio's cache of served files is pruned every
``delete_cache[0]`` s of files older than ``delete_cache[1]`` s and emptied when the server stops.
"""
from __future__ import annotations

import functools

import gradio as gr

from amgan.errors import UserError
from demo.handlers import AS_READ, EDIT_SIDE, K_MAX, DemoLogic, check_k, load_photo, not_an_image, shown
from demo.render import notes_markdown, timings_markdown
from demo.startup import EXAMPLES_LABEL

__all__ = ["build_demo", "launch_demo", "PhotoInput", "MatchCount", "CSS", "QUEUE_SIZE", "DELETE_CACHE"]

REGIONS = [("Whole garment", "whole"), ("Sleeves only", "sleeves"), ("Torso only", "torso")]
METHODS = [("AMGAN: edit the photo, then search", "amgan"), ("FLAM: edit the search feature", "flam"),
           ("Both, side by side", "both")]
CONCURRENCY = 2  # model steps running at once
QUEUE_SIZE = 16  # requests waiting; one more is refused with Gradio's queue-full answer
DELETE_CACHE = (900, 3600)  # every 15 min, delete served files older than 1 h (all of them at shutdown)
MODELS = "models"  # the concurrency group of every step that runs a network
CSS = """
#photo img, #edited img, #mask img, #cam img, #search-view img { width: 100%; height: 100%; object-fit: contain; }
.pixelated img { image-rendering: pixelated; }
.matches .grid-wrap { min-height: 0 !important; max-height: none !important; }
.matches .thumbnail-item { display: flex; flex-direction: column; aspect-ratio: auto !important; }
.matches .thumbnail-item img { aspect-ratio: 1; }
.matches .caption-label { position: static !important; white-space: normal !important; max-width: none !important;
                          text-overflow: clip !important; font-size: 0.8em !important; line-height: 1.25;
                          background: none !important; padding: 2px 4px !important; }
#timings { font-size: 0.9em; }
"""


class PhotoInput(gr.Image):
    """``gr.Image`` (same front end) that hands the endpoints the photo at most :data:`EDIT_SIDE` px
    (:func:`demo.handlers.load_photo`; the reading and searching endpoints scale it further);
    unreadable uploads become a clear message."""

    is_template = True

    def preprocess(self, payload):
        if payload is None:
            return None
        try:
            try:
                path = super().preprocess(payload)
            except (OSError, ValueError, SyntaxError) as e:  # PIL could not open it
                raise not_an_image(getattr(payload, "orig_name", None) or "the upload", e) from None
            return load_photo(path, EDIT_SIDE)
        except UserError as e:
            raise shown(e) from None


class MatchCount(gr.Slider):
    """``gr.Slider`` (same front end) whose API value is checked by the demo: anything but a whole
    number 1..30 is answered "k must be a whole number from 1 to 30 ..." (not Gradio's own wording)."""

    is_template = True

    def preprocess(self, payload):
        try:
            return check_k(payload)
        except UserError as e:
            raise shown(e) from None


def build_demo(editor, retriever=None, *, examples=(), examples_label: str = EXAMPLES_LABEL[False], notes=(), k: int = 8,
               search_off: str = "",
               flam_off: str = "", concurrency: int = CONCURRENCY, max_queue: int | None = QUEUE_SIZE,
               delete_cache: tuple[int, int] | None = DELETE_CACHE, store=None) -> gr.Blocks:
    """The demo page over an :class:`amgan.Editor` and an optional :class:`fir.retriever.Retriever`.

    ``examples``: image paths offered as gr.Examples (``examples_label`` above them); ``notes``: lines shown at the top (e.g.
    why FLAM is off); ``search_off``/``flam_off``: the reason given when search/FLAM are used
    but not loaded; ``store``: the :class:`demo.render.PngStore` results are served from (a new
    temporary one by default). The queue runs ``concurrency`` model steps at a time and holds at
    most ``max_queue`` waiting requests; ``delete_cache`` is Gradio's (frequency, age) in seconds.
    """
    logic = DemoLogic(editor, retriever, search_off, flam_off, store=store)
    schema = editor.schema
    has_search, has_flam = retriever is not None, logic.has_flam
    with gr.Blocks(title="AMGAN + FIR: this, but red", analytics_enabled=False, delete_cache=delete_cache) as demo:
        gr.Markdown("## This, but red: attribute editing with AMGAN, catalogue search with FIR and FLAM\n"
                    "Upload a garment photo or pick an example, correct the reading where a model misread it, "
                    "choose what to change (menus or an instruction), then **Edit and search**. AMGAN edits the "
                    "photo and the edit is searched in the catalogue; FLAM edits the photo's search feature instead. "
                    "✓ in a caption: the item has every target attribute (the method's reading of the photo, "
                    f"with your corrections, plus the request). Photos are edited at their own resolution up to "
                    f"{EDIT_SIDE} px on their longest side (a 12-megapixel phone photo at full size).")
        for line in notes:
            gr.Markdown(f"**Note:** {line}", elem_classes="note")
        with gr.Row(equal_height=False):
            with gr.Column(scale=4):
                image = PhotoInput(label="Photo", type="filepath", image_mode=None, format="png", height=320,
                                   sources=["upload", "clipboard"], elem_id="photo", elem_classes="pixelated")
                search_view = gr.Image(label="What search sees of the photo (the garment alone)", height=150,
                                       format="png", interactive=False, elem_id="search-view", buttons=["fullscreen"])
                if examples:
                    gr.Examples([[str(p)] for p in examples], inputs=[image], examples_per_page=len(examples),
                                label=examples_label, elem_id="examples")
            with gr.Column(scale=4):
                predicted = gr.Dataframe(headers=["attribute", "predicted", "runner-up", "FLAM reads"],
                                         column_widths=["22%", "26%", "26%", "26%"], wrap=True,
                                         label="Predicted attributes", interactive=False, elem_id="predicted")
                reading = gr.State({})  # the classifier's values {group: value} of the photo shown
                # one correction menu per group: "as read" (no correction) or the value the photo really has;
                # AMGAN and FLAM both start from a corrected value instead of their own reading
                corrections = []
                with gr.Accordion("Correct the reading: what the photo really is (AMGAN and FLAM start from it)",
                                  open=True, elem_id="corrections"):
                    for i in range(0, len(schema.groups), 3):
                        with gr.Row():
                            corrections += [gr.Dropdown([AS_READ, *g.values], value=AS_READ, label=f"{g.name} is",
                                                        elem_id=f"correct-{g.name}", min_width=100)
                                            for g in schema.groups[i:i + 3]]
                instruction = gr.Textbox(label="Instruction (wins over the menus when filled)",
                                         placeholder="make it red with long sleeves", elem_id="instruction")
                menus = []
                for i in range(0, len(schema.manipulable), 2):  # two menus per row, labelled with the group names
                    with gr.Row():
                        menus += [gr.Dropdown(list(g.values), value=None, label=g.name, elem_id=f"menu-{g.name}",
                                              min_width=120) for g in schema.manipulable[i:i + 2]]
            with gr.Column(scale=3):
                region = gr.Radio(REGIONS, value="whole", label="Region (color and pattern edits)", elem_id="region")
                even = gr.Checkbox(False, label="Even colour: one dye over the whole garment (colour edits)",
                                   elem_id="even")
                method = gr.Radio(METHODS, value="both" if has_flam else "amgan", interactive=has_flam,
                                  label="Method" + ("" if has_flam else " (FLAM is off)"), elem_id="method")
                k_slider = MatchCount(1, K_MAX, value=min(k, K_MAX), step=1, label="Matches (k)", elem_id="k")
                go = gr.Button("Edit and search", variant="primary", elem_id="go", interactive=has_search)
                with gr.Row():
                    edit_only = gr.Button("Edit only", elem_id="edit-only", size="sm")
                    search_plain = gr.Button("Search the photo as is", elem_id="search-plain", size="sm",
                                             interactive=has_search)
                request_box = gr.Textbox(label="Request sent", interactive=False, elem_id="request")
                source_box = gr.Textbox("", label="Known values sent (your corrections)", interactive=False,
                                        elem_id="source")
        result_notes = gr.Markdown(elem_id="result-notes")  # the model's caveats for this edit, beside it
        with gr.Row():
            shown_image = dict(format="png", interactive=False, height=260, buttons=["download", "fullscreen"],
                               elem_classes="pixelated")
            edited = gr.Image(label="Edited (AMGAN)", elem_id="edited", **shown_image)
            mask = gr.Image(label="Attention mask over the input (red)", elem_id="mask", **shown_image)
            cam = gr.Image(label="CAM of the current value (blue low, red high)", elem_id="cam", **shown_image)
        gal = dict(format="png", columns=8, height="auto", object_fit="contain", interactive=False, allow_preview=True,
                   buttons=["fullscreen"], elem_classes="matches")
        gal_amgan = gr.Gallery(label="Matches: AMGAN edit, then search", elem_id="gallery-amgan", **gal)
        gal_flam = gr.Gallery(label="Matches: FLAM feature edit", elem_id="gallery-flam", visible=has_flam, **gal)
        gal_plain = gr.Gallery(label="Matches: the photo as it is", elem_id="gallery-plain", **gal)
        timings = gr.Markdown(elem_id="timings")
        with gr.Accordion("Details (JSON: request, attributes, matches, timings)", open=False):
            info = gr.JSON(label="info", elem_id="info")

        results = [edited, mask, cam, gal_amgan, gal_flam, gal_plain, info, timings, result_notes, request_box,
                   source_box]
        cleared = [None, None, None, [], [], [], None, "", "", "", ""]
        private = dict(api_visibility="private")
        models = dict(concurrency_id=MODELS, concurrency_limit=concurrency)
        light = dict(concurrency_limit=None, **private)  # no network: never waits for a model slot

        # a new photo: its reading, the edit menus preset to it, every correction back to "as read"
        image.change(lambda im: [*logic.analyse(im), *cleared], image,
                     [predicted, *menus, reading, *corrections, search_view, *results], **models, **private)
        for g, menu in zip(schema.manipulable, menus):  # a correction moves that group's edit menu with it
            box = corrections[schema.names.index(g.name)]
            box.input(functools.partial(logic.menu_after_correction, g.name), [box, reading], menu, **light)
        compose = dict(fn=logic.compose, inputs=[image, instruction, *menus, *corrections],
                       outputs=[request_box, source_box], **models, **private)
        show_time = dict(fn=lambda i: (timings_markdown(i), notes_markdown(i)), inputs=info,
                         outputs=[timings, result_notes], **light)

        def clear_results():
            return cleared

        # every action: clear all results, then fill what it computes
        gr.on([go.click, instruction.submit], clear_results, None, results, **light).success(**compose).success(
            logic.edit_and_search, [image, request_box, region, method, k_slider, source_box, even],
            [edited, mask, cam, gal_amgan, gal_flam, info], api_name="edit_and_search", **models).success(
            **show_time).success(logic.baseline, [image, k_slider], gal_plain, **models, **private)
        edit_only.click(clear_results, None, results, **light).success(**compose).success(
            logic.edit, [image, request_box, region, source_box, even], [edited, mask, cam, info], api_name="edit",
            **models).success(**show_time)
        search_plain.click(clear_results, None, results, **light).success(
            logic.search, [image, k_slider], [gal_plain, info], api_name="search", **models).success(**show_time)
    demo.queue(default_concurrency_limit=concurrency, max_size=max_queue)
    demo.logic = logic  # for tests and for callers that close the store
    return demo


def launch_demo(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, **kw):
    """Serve ``demo`` locally: no share link, no server-side rendering (no node), uploads up to 25 MB."""
    return demo.launch(server_name=host, server_port=port, share=False, ssr_mode=False, css=CSS,
                       footer_links=["api"], max_file_size="25mb", **kw)
