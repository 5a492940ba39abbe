"""The README screenshot (docs/demo.png): the demo on the shipped models, driven in headless Chromium.

    .venv/bin/python tests/screenshot.py docs/demo.png
    .venv/bin/python tests/screenshot.py docs/demo_striped.png --color '' --pattern striped
    DEMO_SCREENSHOT=docs/demo.png .venv/bin/python -m pytest tests/test_demo_browser.py -k readme   # the same

It loads the shipped checkpoints as ``make demo`` does (data set made and gallery index built when
missing), serves the page on a free local port, uploads the first example (a street photo),
chooses ``--color`` in the colour menu, clicks **Edit and search** and saves the full page once the
edit, the AMGAN, FLAM and unedited matches and the timings are shown. Needs Debian's
``/usr/bin/chromium`` (``apt-get install -y chromium``); Playwright drives it (never ``playwright
install``). :func:`take_screenshot` is also what the browser tests use on the tiny test models.
"""
from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def drive(page, image: str | Path, color: str | None = "red", timeout_ms: int = 60_000, even: bool = False,
          pattern: str | None = None):
    """On a loaded demo page: upload ``image``, choose ``color`` and/or ``pattern`` in their menus (and tick
    **Even colour** when ``even``), Edit and search, wait for the results."""
    page.locator("#photo input[type=file]").set_input_files(str(image))
    page.locator("#predicted").get_by_text("color", exact=True).wait_for(timeout=timeout_ms)
    for group, value in (("color", color), ("pattern", pattern)):
        if value:
            page.locator(f"#menu-{group} input").click()
            page.get_by_role("option", name=value, exact=True).click()
    if even:
        page.locator("#even input[type=checkbox]").check()
    page.locator("#go").click()
    page.locator("#edited img").first.wait_for(timeout=timeout_ms)
    page.locator("#gallery-amgan img").first.wait_for(timeout=timeout_ms)
    page.locator("#gallery-plain img").first.wait_for(timeout=timeout_ms)  # the unedited photo's matches
    page.locator("#timings").get_by_text("total").wait_for(timeout=timeout_ms)


def take_screenshot(url: str, image: str | Path, out: str | Path, color: str | None = "red", timeout_ms: int = 60_000,
                    browser=None, even: bool = False, pattern: str | None = None) -> Path:
    """Headless Chromium on ``url``: :func:`drive`, then a full-page PNG written to ``out`` (atomically).
    ``browser``: a Playwright browser to open the page in (default: launch Chromium for it)."""
    from amgan.io import atomic_write_bytes

    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                return take_screenshot(url, image, out, color, timeout_ms, browser=b, even=even, pattern=pattern)
            finally:
                b.close()
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        page = ctx.new_page()
        page.goto(url, timeout=timeout_ms)
        drive(page, image, color, timeout_ms, even=even, pattern=pattern)
        png = page.screenshot(full_page=True)
    finally:
        ctx.close()
    return Path(atomic_write_bytes(out, png))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None, browser=None) -> int:
    from demo.startup import DEFAULTS

    p = argparse.ArgumentParser(prog="python tests/screenshot.py", description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", default="docs/demo.png", help="the PNG to write (default docs/demo.png)")
    p.add_argument("--color", default="red", help="the colour chosen in the menu ('' for none)")
    p.add_argument("--pattern", default=None, help="the pattern chosen in the menu (e.g. striped; default none)")
    p.add_argument("--example", type=int, default=0, help="which of the demo's examples is uploaded")
    p.add_argument("--even", action="store_true", help="tick Even colour before editing")
    for name in ("editor", "embedder", "flam", "data", "index"):
        p.add_argument(f"--{name}", default=DEFAULTS[name])
    args = p.parse_args(argv)

    from demo.layout import build_demo, launch_demo
    from demo.startup import load_parts

    parts = load_parts(args.editor, args.embedder, args.flam, args.data, args.index)
    demo = build_demo(**parts)
    port = _free_port()
    launch_demo(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        out = take_screenshot(f"http://127.0.0.1:{port}", parts["examples"][args.example], args.out,
                              args.color or None, browser=browser, even=args.even, pattern=args.pattern)
    finally:
        demo.close()
        demo.logic.store.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: `demo` importable
    sys.exit(main())
