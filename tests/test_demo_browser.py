"""The demo in a real headless Chromium: Playwright's sync API driving Debian's /usr/bin/chromium
(never `playwright install`). Upload, choose, click, and check what the page shows.

``DEMO_SCREENSHOT=docs/demo.png pytest tests/test_demo_browser.py -k readme`` also remakes the README
screenshot on the shipped models (see tests/screenshot.py)."""
import io
import os
import re

import numpy as np
import pytest
import torch
from PIL import Image

torch.set_num_threads(1)

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} is missing (apt-get install -y chromium chromium-driver)"),
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
expect = sync_api.expect


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, demo_server):
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(demo_server["url"])
    try:
        yield pg
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def photo(demo_server):
    """A test-split shop image that is not one of the page's examples."""
    from amgan.data.manifest import read_manifest

    m = read_manifest(demo_server["data"] / "manifest.csv")
    return next(str(m.image_path(i)) for i in m.indices("test", "shop")
                if str(m.image_path(i)) not in demo_server["examples"])


def _predicted(editor, path) -> dict:
    return {g: max(p, key=p.get) for g, p in editor.predict(Image.open(path)).items()}


def _choose(page, group: str, value: str):
    page.locator(f"#menu-{group} input").click()
    page.get_by_role("option", name=value, exact=True).click()


def test_upload_choose_a_colour_edit_and_search(page, demo_server, photo, tmp_path):
    ed, r = demo_server["editor"], demo_server["retriever"]
    pred = _predicted(ed, photo)
    page.locator("#photo input[type=file]").set_input_files(photo)
    # the prediction fills the table and presets every menu
    expect(page.locator("#predicted")).to_contain_text(f"{pred['pattern']} ")
    for g in ("color", "pattern", "sleeve", "neckline"):
        expect(page.locator(f"#menu-{g} input")).to_have_value(pred[g])
    color = next(c for c in ("red", "blue", "green") if c != pred["color"])
    _choose(page, "color", color)
    page.locator("#go").click()

    expect(page.locator("#request textarea, #request input").first).to_have_value(f"color={color}")
    expect(page.locator("#timings")).to_contain_text("total")
    expect(page.locator("#gallery-amgan .thumbnail-item")).to_have_count(8)
    expect(page.locator("#gallery-flam .thumbnail-item")).to_have_count(8)  # FLAM is loaded: 'both' by default
    expect(page.locator("#gallery-plain .thumbnail-item")).to_have_count(8)  # the unedited photo, beside them
    edited = page.locator("#edited img").first
    expect(edited).to_be_visible()

    # what the page shows is the editor's edit and the retriever's matches for it
    ref = ed.edit(Image.open(photo), {"color": color})
    shown = Image.open(io.BytesIO(page.request.get(edited.get_attribute("src")).body())).convert("RGB")
    assert np.abs(np.asarray(shown).astype(int) - np.asarray(ref.image).astype(int)).max() <= 1
    hits = r.search(ref.image, 8).hits
    captions = page.locator("#gallery-amgan .caption-label").all_inner_texts()
    assert [c.split()[:2] for c in captions] == [[f"#{h.rank + 1}", f"{h.score:.3f}"] for h in hits]
    for c, h in zip(captions, hits):
        assert c.endswith(" ".join(h.item["attributes"][g] for g in ed.schema.names))
    for sel in ("#mask img", "#cam img"):
        expect(page.locator(sel).first).to_be_visible()

    shot = tmp_path / "demo.png"
    page.screenshot(path=str(shot), full_page=True)
    assert Image.open(shot).size[0] == 1440 and shot.stat().st_size > 20_000


def _choose_correction(page, group: str, value: str):
    page.locator(f"#correct-{group} input").click()
    page.get_by_role("option", name=value, exact=True).click()


def _json_object(text: str, key: str) -> dict:
    """The flat object under ``key`` in the page's JSON view (its text, whitespace normalised)."""
    m = re.search(r'"%s" : \{([^{}]*)\}' % key, text)
    assert m, f"no {key} in {text[:500]}"
    return dict(re.findall(r'"(\w+)" : "([^"]*)"', m[1]))


def test_correct_the_reading_then_edit_and_search(page, demo_server, photo):
    """A correction (a value that neither model reads) is sent as the known values: the result JSON shows
    AMGAN and FLAM both starting from it; the edit menu of its group follows it; a new photo resets it."""
    ed, r = demo_server["editor"], demo_server["retriever"]
    amgan_read = ed.edit(Image.open(photo), {"color": "red"}).source_attributes
    flam_read = r.flam_search(Image.open(photo), {"color": "red"}, k=1).source
    candidates = [("sleeve", "short"), *((g.name, v) for g in ed.schema.manipulable if g.name != "color"
                                         for v in g.values)]
    group, value = next((g, v) for g, v in candidates if v not in (amgan_read[g], flam_read[g]))
    pred = _predicted(ed, photo)
    page.locator("#photo input[type=file]").set_input_files(photo)
    expect(page.locator("#menu-color input")).to_have_value(pred["color"])
    for g in ed.schema.names:  # one correction menu per group, category included, all "as read"
        expect(page.locator(f"#correct-{g} input")).to_have_value("as read")
    _choose_correction(page, group, value)
    expect(page.locator(f"#menu-{group} input")).to_have_value(value)  # the edit menu follows the correction
    color = next(c for c in ("red", "blue", "green") if c != pred["color"])
    _choose(page, "color", color)
    page.locator("#go").click()

    expect(page.locator("#request textarea, #request input").first).to_have_value(f"color={color}")
    expect(page.locator("#source textarea, #source input").first).to_have_value(f"{group}={value}")
    expect(page.locator("#gallery-flam .thumbnail-item")).to_have_count(8)
    page.get_by_text("Details (JSON").click()
    expect(page.locator("#info")).to_contain_text("flam_target")
    text = " ".join(page.locator("#info").inner_text().split())
    assert _json_object(text, "source") == {group: value}
    assert _json_object(text, "amgan_source") == {**amgan_read, group: value}
    assert _json_object(text, "flam_source") == {**flam_read, group: value}
    assert _json_object(text, "flam_target") == {**flam_read, group: value, "color": color}

    # a new photo: every correction back to "as read"
    page.locator("#examples button").first.click()
    expect(page.locator("#request textarea, #request input").first).to_have_value("")
    for g in ed.schema.names:
        expect(page.locator(f"#correct-{g} input")).to_have_value("as read")
    expect(page.locator("#source textarea, #source input").first).to_have_value("")


def test_example_instruction_and_a_mistake(page, demo_server):
    """Pick an example; Enter in the instruction box runs the search; a bad request shows a message."""
    page.locator("#examples button").first.click()  # the first example
    expect(page.locator("#predicted")).to_contain_text("neckline")
    page.locator("#instruction textarea, #instruction input").first.fill("make it sparkly")
    page.locator("#instruction textarea, #instruction input").first.press("Enter")
    expect(page.get_by_text("no attribute value found in 'make it sparkly'").first).to_be_visible()
    page.locator("#instruction textarea, #instruction input").first.fill("make it green with long sleeves")
    page.locator("#instruction textarea, #instruction input").first.press("Enter")
    expect(page.locator("#request textarea, #request input").first).to_have_value("color=green, sleeve=long")
    expect(page.locator("#gallery-amgan .thumbnail-item")).to_have_count(8)


def test_nothing_requested_is_a_message(page, demo_server, photo):
    page.locator("#photo input[type=file]").set_input_files(photo)
    expect(page.locator("#menu-color input")).to_have_value(_predicted(demo_server["editor"], photo)["color"])
    page.locator("#go").click()
    expect(page.get_by_text("Nothing requested").first).to_be_visible()
    expect(page.locator("#gallery-amgan .thumbnail-item")).to_have_count(0)


def test_each_action_replaces_every_result(page, demo_server, photo):
    """Edit only and Search the photo as is leave nothing of an earlier request on the page."""
    page.locator("#photo input[type=file]").set_input_files(photo)
    expect(page.locator("#menu-color input")).to_have_value(_predicted(demo_server["editor"], photo)["color"])
    instruction = page.locator("#instruction textarea, #instruction input").first
    instruction.fill("make it striped")
    page.locator("#go").click()
    for g in ("amgan", "flam", "plain"):
        expect(page.locator(f"#gallery-{g} .thumbnail-item")).to_have_count(8)
    expect(page.locator("#timings")).to_contain_text("flam")

    instruction.fill("make it dotted")
    page.locator("#edit-only").click()
    expect(page.locator("#request textarea, #request input").first).to_have_value("pattern=dotted")
    expect(page.locator("#timings")).to_contain_text("total")
    expect(page.locator("#edited img").first).to_be_visible()
    for g in ("amgan", "flam", "plain"):  # no matches of the earlier request
        expect(page.locator(f"#gallery-{g} .thumbnail-item")).to_have_count(0)
    expect(page.locator("#timings")).not_to_contain_text("flam")

    page.locator("#search-plain").click()
    expect(page.locator("#gallery-plain .thumbnail-item")).to_have_count(8)
    expect(page.locator("#timings")).to_contain_text("total")
    for sel in ("#edited img", "#mask img", "#cam img"):  # no edit of the earlier request
        expect(page.locator(sel)).to_have_count(0)
    expect(page.locator("#request textarea, #request input").first).to_have_value("")
    for g in ("amgan", "flam"):
        expect(page.locator(f"#gallery-{g} .thumbnail-item")).to_have_count(0)


def test_screenshot_helper_on_the_test_server(browser, demo_server, photo, tmp_path):
    """tests/screenshot.py's driver (what makes docs/demo.png) works on the page as it is."""
    from screenshot import take_screenshot

    shot = take_screenshot(demo_server["url"], photo, tmp_path / "shot.png", color="green", browser=browser)
    assert Image.open(shot).size[0] == 1440 and shot.stat().st_size > 20_000


@pytest.mark.skipif(not os.environ.get("DEMO_SCREENSHOT"), reason="set DEMO_SCREENSHOT=docs/demo.png to remake it")
def test_readme_screenshot(browser):
    """The README screenshot on the shipped models (slow: loads them and may build the gallery index)."""
    from screenshot import main

    out = os.environ["DEMO_SCREENSHOT"]
    assert main([out], browser=browser) == 0
    assert Image.open(out).size[0] == 1440
