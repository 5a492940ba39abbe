"""The Gradio web demo: "this, but red" on a garment photo, and the catalogue items that match.

    make demo                                      # = python -m demo.app -> http://127.0.0.1:7860
    python -m demo.app --flam none --port 7861     # FLAM off, another port

``python -m demo.app`` checks the port, makes the SynthFashion data set when it is missing (as
``make data``), loads the shipped checkpoints, builds the gallery index when it is missing or was
built by another embedder, and serves the page on 127.0.0.1 (no share link, no telemetry, nothing
fetched from the network); "ready" is logged once it serves. FIR and FLAM are optional: without
them the page says so and the editing still works. A port in use is one line naming ``--port``
(exit code 2); so are a missing checkpoint or data folder. Temporary files (Gradio's cache and
the result PNGs) live in one folder that is removed when the demo stops (Ctrl-C or SIGTERM).

The modules: :mod:`demo.layout` (the page), :mod:`demo.handlers` (what each action computes and
the checks on its inputs), :mod:`demo.render` (overlays, captions, PNG files), :mod:`demo.startup`
(data, models, index, examples, port). The README screenshot is made by ``tests/screenshot.py``.

Named API endpoints (``gradio_client.Client(url).predict(..., api_name="/edit")``). ``image``
is a file (``gradio_client.handle_file(path)``), edited at its own resolution up to 4096 px on its
longest side (a larger photo is scaled to that first; the edit comes back at that size, the mask and CAM
overlays at most 1024 px); ``request`` is an instruction ("make it
red with long sleeves"), ``group=value`` pairs ("color=red, sleeve=long") or a JSON object
('{"color": "red"}'), at most 500 characters; ``region`` is ``whole``, ``sleeves`` or ``torso``;
``method`` is ``amgan``, ``flam`` or ``both``; ``k`` is a whole number 1..30; ``source`` (optional,
the last parameter, empty = none) is what is known about the photo, ``group=value`` pairs such as
"sleeve=short, color=blue" for any group (category too): AMGAN and FLAM both start from these
values instead of their own reading of those groups (the page's "Correct the reading" menus send
them). Images come back as PNG files; a gallery is a list of ``{"image": ..., "caption": "#rank
score [✓] attribute values"}`` (✓: the item has every target attribute of the method that found
it); ``info`` is JSON with the request, the known values (``source``), the values each method
started from (``amgan_source``, ``flam_source``), the target attributes, the matches (rank, id,
score, product_id, attributes, has_target) and the time of each step in ms.

- ``/edit(image, request, region, source="") -> (edited, mask_overlay, cam_overlay, info)``
- ``/search(image, k) -> (gallery, info)``: the photo as it is
- ``/edit_and_search(image, request, region, method, k, source="") -> (edited, mask_overlay,
  cam_overlay, amgan_gallery, flam_gallery, info)``: AMGAN edits the photo, then FIR searches
  with the edit (✓ against ``info["target"]``: the CAM classifier's reading with the known
  values, plus the request); FLAM edits the photo's FIR feature instead, from its own reading of
  the photo's attributes with the known values (``info["flam_source"]``; ✓ against
  ``info["flam_target"]``); ``both`` runs the two.

Mistakes (no image, not an image, too small, unknown attribute or value in the request or the
known values, nothing requested, a bad k, a region with a sleeve edit, FLAM or search not loaded)
come back as ``gr.Error`` messages (``AppError`` in gradio_client), the user's own text cut to 80
characters. Anything else is a bug: the message says "Internal error ... see the server log" and the server logs
the traceback. Two model steps run at a time; 16 more wait; beyond that a request gets the
queue-full answer (``QueueError`` in gradio_client; "This application is currently busy. Please
try again." in the page).
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no telemetry, no version check

from amgan.allocator import keep_freed_memory  # noqa: E402
from amgan.errors import UserError  # noqa: E402
from demo.handlers import DemoLogic, load_photo  # noqa: E402
from demo.layout import build_demo, launch_demo  # noqa: E402
from demo.render import PngStore, cam_overlay, mask_overlay  # noqa: E402
from demo.startup import (DEFAULTS, ensure_synth_data, example_images, load_parts, load_retriever,  # noqa: E402
                          port_problem)

__all__ = ["build_demo", "launch_demo", "DemoLogic", "load_photo", "load_retriever", "example_images",
           "ensure_synth_data", "mask_overlay", "cam_overlay", "port_problem", "build_parser", "main"]

log = logging.getLogger("demo")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m demo.app", description="The AMGAN + FIR Gradio demo")
    p.add_argument("--editor", default=DEFAULTS["editor"], help="AMGAN editor (model folder or legacy .pt)")
    p.add_argument("--embedder", default=DEFAULTS["embedder"], help="FIR embedder (missing: search is off)")
    p.add_argument("--flam", default=DEFAULTS["flam"], help="FLAM model (missing or 'none': FLAM is off)")
    p.add_argument("--data", default=DEFAULTS["data"], help="the catalogue data set: auto = data/clothing (real photos) when make photos made it, "
                   "else data/synth64 (SynthFashion, made when missing)")
    p.add_argument("--index", default=DEFAULTS["index"], help="gallery index folder, built when missing or stale "
                   "(auto: runs/demo_gallery_photos for the photos, runs/demo_gallery for SynthFashion)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--k", type=int, default=8, help="matches shown by default")
    return p


@contextlib.contextmanager
def _gradio_cache_in(folder: Path):
    """Gradio's cache (uploads, served files) in ``folder`` while the demo runs, unless the user
    chose one with GRADIO_TEMP_DIR. Gradio reads the variable when the page is built."""
    if os.environ.get("GRADIO_TEMP_DIR"):
        yield
        return
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    try:
        yield
    finally:
        os.environ.pop("GRADIO_TEMP_DIR", None)


@contextlib.contextmanager
def _sigterm_stops():
    """SIGTERM stops the demo like Ctrl-C does (so the temporary folder is removed)."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    keep_freed_memory()  # an edit reuses the memory the last one freed (amgan.allocator)
    logging.basicConfig(level=logging.WARNING, format="demo: %(message)s")
    log.setLevel(logging.INFO)
    problem = port_problem(args.host, args.port)
    if problem:
        print(f"demo: error: {problem}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        parts = load_parts(args.editor, args.embedder, args.flam, args.data, args.index)
    except UserError as e:
        print(f"demo: error: {e}", file=sys.stderr)
        return 2
    for n in parts["notes"]:
        log.info("%s", n)
    with tempfile.TemporaryDirectory(prefix="amgan_demo_") as tmp, _gradio_cache_in(Path(tmp) / "gradio"), \
            _sigterm_stops():
        demo = build_demo(k=args.k, store=PngStore(Path(tmp) / "results"), **parts)
        try:
            launch_demo(demo, args.host, args.port, prevent_thread_lock=True, quiet=True)
        except OSError as e:  # taken between the check and now
            print(f"demo: error: port {args.port} on {args.host} cannot be served on ({e}); "
                  "choose another with --port", file=sys.stderr)
            return 2
        log.info("ready in %.1f s: http://%s:%d (Ctrl-C stops)", time.perf_counter() - t0, args.host, args.port)
        try:
            demo.block_thread()  # returns on Ctrl-C or SIGTERM
        finally:
            demo.close()
    log.info("stopped; temporary files removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
