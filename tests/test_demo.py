"""The Gradio demo through gradio_client, against a real local server on tiny models (fixture
``demo_server`` in conftest.py): each named endpoint, user mistakes as messages, bugs as a logged
internal error, concurrent users, the bounded queue, big uploads, the port, start and stop."""
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

torch.set_num_threads(1)

gradio_client = pytest.importorskip("gradio_client")
pytestmark = [pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),  # inside gradio
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]


@pytest.fixture(scope="module")
def client(demo_server):
    return gradio_client.Client(demo_server["url"], analytics_enabled=False, verbose=False)


@pytest.fixture(scope="module")
def test_images(demo_server):
    """Test-split shop and street images of the tiny data set."""
    from amgan.data.manifest import read_manifest

    m = read_manifest(demo_server["data"] / "manifest.csv")
    return [str(m.image_path(i)) for i in m.indices("test")]


def _png(path) -> np.ndarray:
    assert str(path).endswith(".png"), path
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def _gallery_ids(gallery_json, matches):
    assert len(gallery_json) == len(matches)
    for g, m in zip(gallery_json, matches):
        assert g["caption"].startswith(f"#{m['rank']} {m['score']:.3f}")
        assert str(g["image"]).endswith(".png")
    return [m["id"] for m in matches]


def test_named_endpoints_and_nothing_else(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(api) == {"/edit", "/search", "/edit_and_search"}
    assert [p["parameter_name"] for p in api["/edit_and_search"]["parameters"]] == [
        "image", "request", "region", "method", "k", "source", "even"]
    assert [p["parameter_name"] for p in api["/edit"]["parameters"]] == ["image", "request", "region", "source", "even"]
    assert [p["parameter_name"] for p in api["/search"]["parameters"]] == ["image", "k"]
    for name in ("/edit", "/edit_and_search"):  # the known values and the even colour are optional: none, off
        src, even = api[name]["parameters"][-2:]
        assert src["parameter_has_default"] and src["parameter_default"] == ""
        assert even["parameter_has_default"] and even["parameter_default"] is False
    assert len(api["/edit_and_search"]["returns"]) == 6 and len(api["/search"]["returns"]) == 2


def test_edit_matches_the_editor(client, demo_server, test_images):
    from amgan.image import to_rgb
    from demo.render import cam_overlay, mask_overlay

    ed, path = demo_server["editor"], test_images[0]
    edited, mask, cam, info = client.predict(gradio_client.handle_file(path), "make it red", "whole",
                                             api_name="/edit")
    ref = ed.edit(Image.open(path), {"color": "red"})
    rgb = to_rgb(Image.open(path))
    assert np.abs(_png(edited) - np.asarray(ref.image).astype(int)).max() <= 1
    assert np.abs(_png(mask) - np.asarray(mask_overlay(rgb, ref.mask)).astype(int)).max() <= 1
    assert np.abs(_png(cam) - np.asarray(cam_overlay(rgb, ref.cam)).astype(int)).max() <= 1
    assert info["request"] == {"color": "red"} and info["predicted"] == ref.source_attributes
    assert info["target"] == {**ref.source_attributes, "color": "red"} and info["region"] == "whole"
    assert info["size"] == list(rgb.size)  # small photos are worked on at their own size
    assert set(info["timings_ms"]["edit"]) == set(ref.timings) and info["timings_ms"]["total"] > 0


def test_edit_request_forms_agree(client, test_images):
    """An instruction, group=value pairs and a JSON object name the same edit."""
    f = gradio_client.handle_file(test_images[1])
    outs = [client.predict(f, r, "torso", api_name="/edit")
            for r in ("blue and striped", "color=blue, pattern=striped", '{"pattern": "striped", "color": "blue"}')]
    assert all(o[3]["request"] == {"color": "blue", "pattern": "striped"} for o in outs)
    assert all(o[3]["region"] == "torso" for o in outs)
    assert np.array_equal(_png(outs[0][0]), _png(outs[2][0]))


def test_search_matches_the_retriever(client, demo_server, test_images):
    path = test_images[2]
    gallery, info = client.predict(gradio_client.handle_file(path), 5, api_name="/search")
    ref = demo_server["retriever"].search(Image.open(path), 5)
    assert _gallery_ids(gallery, info["matches"]) == [h.id for h in ref.hits]
    assert [m["rank"] for m in info["matches"]] == [1, 2, 3, 4, 5]
    assert info["matches"][0]["attributes"] == ref.hits[0].item["attributes"]
    assert set(info["timings_ms"]["search"]) == {"embed", "search"}


def test_edit_and_search_amgan(client, demo_server, test_images):
    ed, r, path = demo_server["editor"], demo_server["retriever"], test_images[3]
    edited, mask, cam, g_amgan, g_flam, info = client.predict(
        gradio_client.handle_file(path), "color=green", "sleeves", "amgan", 4, api_name="/edit_and_search")
    ref = ed.edit(Image.open(path), {"color": "green"}, region="sleeves")
    assert np.abs(_png(edited) - np.asarray(ref.image).astype(int)).max() <= 1
    want = [h.id for h in r.search(ref.image, 4).hits]
    assert _gallery_ids(g_amgan, info["amgan"]) == want
    assert g_flam == [] and "flam" not in info
    target = {**ref.source_attributes, "color": "green"}
    assert info["target"] == target
    for g, m in zip(g_amgan, info["amgan"]):  # ✓ in the caption exactly when the item has every target attribute
        assert m["has_target"] == all(m["attributes"][k] == v for k, v in target.items()) == ("✓" in g["caption"])
    assert set(info["timings_ms"]) == {"edit", "search", "total"}


def _readings(demo_server, path) -> tuple[dict, dict]:
    """(the values AMGAN's edit starts from: the CAM classifier's reading, FLAM's own reading) of the
    photo at ``path``."""
    ed, r = demo_server["editor"], demo_server["retriever"]
    return (ed.edit(Image.open(path), {"color": "red"}).source_attributes,
            r.flam_search(Image.open(path), {"color": "red"}, k=1).source)


def test_known_values_replace_each_methods_reading(client, demo_server, test_images):
    """source="sleeve=short": AMGAN and FLAM both start from sleeve=short (on a photo where at least
    one of them reads another sleeve), and what they compute is the pipeline's with that source."""
    ed, r = demo_server["editor"], demo_server["retriever"]
    readings = {p: _readings(demo_server, p) for p in test_images}
    # a photo where the models do not both read short sleeves already: both misreading it, if there is one
    path = min(test_images, key=lambda p: [readings[p][0]["sleeve"] == "short", readings[p][1]["sleeve"] == "short"])
    pred, flam_read = readings[path]
    assert (pred["sleeve"], flam_read["sleeve"]) != ("short", "short")
    f = gradio_client.handle_file(path)

    *_, plain = client.predict(f, "color=red", "whole", "both", 3, api_name="/edit_and_search")  # no source
    assert plain["source"] == {} and plain["amgan_source"] == pred and plain["flam_source"] == flam_read
    assert plain["amgan_source"]["sleeve"] != "short" or plain["flam_source"]["sleeve"] != "short"

    edited, _, _, g_amgan, g_flam, info = client.predict(f, "color=red", "whole", "both", 3, "sleeve=short",
                                                         api_name="/edit_and_search")
    assert info["source"] == {"sleeve": "short"}
    assert info["amgan_source"] == {**pred, "sleeve": "short"} == info["predicted"]
    assert info["flam_source"] == {**flam_read, "sleeve": "short"}
    assert info["target"] == {**pred, "sleeve": "short", "color": "red"}
    assert info["flam_target"] == {**flam_read, "sleeve": "short", "color": "red"}
    ref = ed.edit(Image.open(path), {"color": "red"}, source={"sleeve": "short"})
    assert np.abs(_png(edited) - np.asarray(ref.image).astype(int)).max() <= 1
    assert _gallery_ids(g_amgan, info["amgan"]) == [h.id for h in r.search(ref.image, 3).hits]
    flam = r.flam_search(Image.open(path), {"color": "red"}, source={"sleeve": "short"}, k=3)
    assert _gallery_ids(g_flam, info["flam"]) == [h.id for h in flam.hits]

    # FLAM alone, user spellings and several groups (category too, which no request can change)
    *_, info = client.predict(f, "make it blue", "whole", "flam", 3, " Sleeves = Short , category=dress ",
                              api_name="/edit_and_search")
    assert info["source"] == {"category": "dress", "sleeve": "short"}
    assert info["flam_source"] == {**flam_read, "category": "dress", "sleeve": "short"}
    assert info["predicted"]["category"] == "dress" and info["predicted"]["sleeve"] == "short"  # for the record

    # /edit: the editor starts from the known values
    edited, _, _, info = client.predict(f, "color=red", "whole", "sleeve=short", api_name="/edit")
    assert info["source"] == {"sleeve": "short"} and info["amgan_source"] == {**pred, "sleeve": "short"}
    assert info["target"] == {**pred, "sleeve": "short", "color": "red"}
    assert np.abs(_png(edited) - np.asarray(ref.image).astype(int)).max() <= 1
    *_, info = client.predict(f, "color=red", "whole", api_name="/edit")  # without: the classifier's reading
    assert info["source"] == {} and info["amgan_source"] == pred


K_MESSAGE = "k must be a whole number from 1 to 30"
BAD_CALLS = [
    ("/edit", (None, "color=red", "whole"), "No image"),
    ("/edit", ("TEXT", "color=red", "whole"), "Not an image"),
    ("/edit", ("IMG", "shade=red", "whole"), "unknown attribute group 'shade'; valid groups: category, color"),
    ("/edit", ("IMG", "color=chartreuse", "whole"), "valid values: black, white, gray"),
    ("/edit", ("IMG", "make it sparkly", "whole"), "no attribute value found"),
    ("/edit", ("IMG", "", "whole"), "nothing requested"),
    ("/edit", ("IMG", "category=dress", "whole"), "cannot be edited"),
    ("/edit", ("IMG", '{"color": ', "whole"), "not valid JSON"),
    ("/edit", ("IMG", "long sleeves", "sleeves"), "cannot change the sleeve length"),
    ("/edit", ("IMG", "color=red", "elbows"), "not in the list of choices"),
    ("/search", ("TINY", 3), "at least 16 pixels"),
    ("/edit_and_search", ("IMG", "color=red", "whole", "telepathy", 3), "not in the list of choices"),
    ("/edit_and_search", ("IMG", "sleeve=short", "torso", "both", 3), "cannot change the sleeve length"),
    # known values (source): the demo's own message around the schema's, which names the valid ones
    ("/edit", ("IMG", "color=red", "whole", "sleeve=medium"),
     "Known values (source): unknown value 'medium' for group 'sleeve'; valid values: sleeveless, short, long"),
    ("/edit_and_search", ("IMG", "color=red", "whole", "both", 3, "shade=red"),
     "Known values (source): unknown attribute group 'shade'; valid groups: category, color, pattern"),
    ("/edit_and_search", ("IMG", "color=red", "whole", "amgan", 3, "sleeve=medium"), "valid values: sleeveless"),
    ("/edit_and_search", ("IMG", "color=red", "whole", "flam", 3, "short sleeves"), "expected group=value, e.g. sleeve=short"),
    ("/edit", ("IMG", "color=red", "whole", "sleeve=short, sleeves=long"), "group 'sleeve' is given twice"),
    ("/edit", ("IMG", "color=red", "whole", "sleeve=" + "x" * 600), "at most 500 are accepted"),
    # k of a wrong type or out of range: the demo's own message, for both endpoints that take k
    *[("/search", ("IMG", k), K_MESSAGE) for k in (None, "abc", 0, 31, 2.5)],
    *[("/edit_and_search", ("IMG", "color=red", "whole", "amgan", k), K_MESSAGE) for k in (None, "abc", 0, 31, 2.5)],
]


@pytest.mark.parametrize("api_name,args,message", BAD_CALLS, ids=[f"{a}-{m[:30]}-{x[-1]!r}" for a, x, m in BAD_CALLS])
def test_mistakes_become_messages(client, test_images, tmp_path, api_name, args, message):
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (8, 8), "red").save(tiny)
    files = {"IMG": test_images[0], "TEXT": str(text), "TINY": str(tiny)}
    args = [gradio_client.handle_file(files[a]) if a in files else a for a in args]
    with pytest.raises(gradio_client.exceptions.AppError) as e:
        client.predict(*args, api_name=api_name)
    assert message.lower() in str(e.value).lower()


def test_edit_and_search_flam(client, demo_server, test_images):
    """FLAM alone: no image edit; matches are the retriever's FLAM search from FLAM's own reading of
    the photo, and a match's ✓ is judged against that reading plus the request."""
    from fir.pipeline import is_match

    ed, r, path = demo_server["editor"], demo_server["retriever"], test_images[4]
    edited, mask, cam, g_amgan, g_flam, info = client.predict(
        gradio_client.handle_file(path), "make it blue", "sleeves", "flam", 5, api_name="/edit_and_search")
    assert edited is None and mask is None and cam is None and g_amgan == [] and "amgan" not in info
    pred = {g: max(p, key=p.get) for g, p in ed.predict(Image.open(path)).items()}
    ref = r.flam_search(Image.open(path), {"color": "blue"}, k=5)
    assert _gallery_ids(g_flam, info["flam"]) == [h.id for h in ref.hits]
    assert info["flam_source"] == ref.source and info["flam_target"] == ref.target == {**ref.source, "color": "blue"}
    assert info["predicted"] == pred and info["target"] == {**pred, "color": "blue"}
    for g, m in zip(g_flam, info["flam"]):
        assert m["has_target"] == is_match(m["attributes"], ref.target, {"color": "blue"}) == ("✓" in g["caption"])
    assert any("region applies to AMGAN only" in n for n in info["notes"])
    assert set(info["timings_ms"]) == {"predict", "flam", "total"}
    assert set(info["timings_ms"]["flam"]) == {"embed", "manipulate", "search"}


def test_flam_matches_are_judged_against_flams_own_reading():
    """The classifier reads the photo as blue/striped, FLAM as green/solid; asked for long sleeves, FLAM
    searched for green/solid/long: its item with those values gets the ✓, not the classifier's one."""
    from PIL import Image as PILImage

    from amgan.attributes import SYNTH_SCHEMA as schema
    from demo.handlers import DemoLogic
    from fir.index import Hit
    from fir.retriever import FlamResult

    base = {"category": "top", "pattern": "solid", "sleeve": "short", "neckline": "round"}
    classifier_reads = {**base, "color": "blue", "pattern": "striped"}
    flam_reads = {**base, "color": "green"}

    class Editor:
        def __init__(self):
            self.schema = schema

        def predict(self, image):
            return {g.name: {v: float(v == classifier_reads[g.name]) for v in g.values} for g in schema.groups}

    class Flam:
        def __init__(self):
            self.schema = schema

    class Retriever:
        flam, model_id = Flam(), None

        def _check_k(self, k):  # EditAndSearch.run checks k with the retriever before any model runs
            return k

        def flam_search(self, image, request, source=None, k=10):
            items = [{"attributes": {**flam_reads, "sleeve": "long"}, "path": "", "product_id": 1},
                     {"attributes": {**classifier_reads, "sleeve": "long"}, "path": "", "product_id": 2}]
            hits = [Hit(i, i, 0.9 - i / 10, item) for i, item in enumerate(items)]
            return FlamResult(hits, np.zeros(4, np.float32), {"embed": 0.0, "manipulate": 0.0, "search": 0.0},
                              source=dict(flam_reads), target={**flam_reads, **request}, request=dict(request))

    logic = DemoLogic(Editor(), Retriever())
    *_, g_amgan, g_flam, info = logic.edit_and_search(PILImage.new("RGB", (32, 32), "white"), "sleeve=long",
                                                      "whole", "flam", 2)
    assert info["flam_target"] == {**flam_reads, "sleeve": "long"}
    assert info["target"] == {**classifier_reads, "sleeve": "long"}  # the classifier's, for the record
    assert [m["has_target"] for m in info["flam"]] == [True, False]
    assert ["✓" in caption for _, caption in g_flam] == [True, False]
    logic.store.close()


def test_edit_and_search_both_side_by_side(client, demo_server, test_images):
    ed, r, path = demo_server["editor"], demo_server["retriever"], test_images[5]
    edited, _, _, g_amgan, g_flam, info = client.predict(
        gradio_client.handle_file(path), "pattern=striped", "whole", "both", 3, api_name="/edit_and_search")
    ref = ed.edit(Image.open(path), {"pattern": "striped"})
    assert np.abs(_png(edited) - np.asarray(ref.image).astype(int)).max() <= 1
    assert _gallery_ids(g_amgan, info["amgan"]) == [h.id for h in r.search(ref.image, 3).hits]
    flam = r.flam_search(Image.open(path), {"pattern": "striped"}, k=3)
    assert _gallery_ids(g_flam, info["flam"]) == [h.id for h in flam.hits]
    from amgan.editor import PATTERN_NOTE

    assert ref.method == "drawn"  # a striped request is drawn on the garment, and the note says so
    assert info["notes"] == [PATTERN_NOTE] and set(info["timings_ms"]) == {"edit", "search", "flam", "total"}


@pytest.fixture(scope="module")
def no_flam_client(demo_server):
    """A second server over the same models but with FLAM off (retriever.flam is None)."""
    from conftest import serve_demo
    from fir.retriever import Retriever

    r = demo_server["retriever"]
    plain = Retriever(r.net, r.index, r.image_size, flam=None)
    demo, url = serve_demo(demo_server["editor"], plain, flam_off="no FLAM checkpoint at x/flam.pt")
    try:
        yield gradio_client.Client(url, analytics_enabled=False, verbose=False)
    finally:
        demo.close()


@pytest.mark.parametrize("method", ["flam", "both"])
def test_flam_off_is_a_message(no_flam_client, test_images, method):
    with pytest.raises(gradio_client.exceptions.AppError, match="FLAM is off: no FLAM checkpoint at x/flam.pt"):
        no_flam_client.predict(gradio_client.handle_file(test_images[0]), "color=red", "whole", method, 3,
                               api_name="/edit_and_search")
    out = no_flam_client.predict(gradio_client.handle_file(test_images[0]), "color=red", "whole", "amgan", 3,
                                 api_name="/edit_and_search")
    assert len(out[3]) == 3 and out[4] == []


def test_the_server_survives_mistakes(client, test_images):
    with pytest.raises(gradio_client.exceptions.AppError):
        client.predict(gradio_client.handle_file(test_images[0]), "shade=red", "whole", api_name="/edit")
    assert client.predict(gradio_client.handle_file(test_images[0]), "red", "whole", api_name="/edit")[3]["request"]


def test_eight_concurrent_users_get_their_own_answers(demo_server, test_images):
    ed, r = demo_server["editor"], demo_server["retriever"]
    colors = ["red", "blue", "green", "yellow", "black", "pink"]
    # 8 users, some asking the very same thing at once (identical outputs share cache files)
    jobs = [(test_images[i % 4], colors[i % len(colors)]) for i in range(8)]

    def user(job):
        path, color = job
        c = gradio_client.Client(demo_server["url"], analytics_enabled=False, verbose=False)
        return c.predict(gradio_client.handle_file(path), f"color={color}", "whole", "amgan", 3,
                         api_name="/edit_and_search")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(user, jobs))
    for (path, color), (edited, _, _, gallery, _, info) in zip(jobs, results):
        ref = ed.edit(Image.open(path), {"color": color})
        assert info["request"] == {"color": color}
        assert np.abs(_png(edited) - np.asarray(ref.image).astype(int)).max() <= 1
        assert _gallery_ids(gallery, info["amgan"]) == [h.id for h in r.search(ref.image, 3).hits]


def test_compose_request_from_menus_and_instruction(demo_server, test_images):
    """The UI step before /edit_and_search: the instruction wins; else the menus that differ."""
    import gradio as gr

    from demo.handlers import AS_READ, DemoLogic

    logic = DemoLogic(demo_server["editor"], demo_server["retriever"])
    groups = [g.name for g in logic.schema.manipulable]
    pred, _ = logic.predicted(Image.open(test_images[0]))
    menus = [pred[g] for g in groups]
    with pytest.raises(gr.Error, match="Nothing requested"):
        logic.compose_request(test_images[0], "", *menus)
    other = next(v for v in logic.schema.group("color").values if v != pred["color"])
    menus[groups.index("color")] = other
    assert logic.compose_request(test_images[0], "  ", *menus) == f"color={other}"
    assert logic.compose_request(test_images[0], "make it long-sleeved and dotted", *menus) == \
        "pattern=dotted, sleeve=long"
    with pytest.raises(gr.Error, match="No image"):
        logic.compose_request(None, "", *menus)
    # corrections: the menus are compared with the photo's values as corrected; the source is sent as text
    corrections = [AS_READ] * len(logic.schema.names)
    corrections[logic.schema.names.index("color")] = other
    menus[groups.index("color")] = other
    with pytest.raises(gr.Error, match="Nothing requested"):  # corrected to `other`, and the menu says `other`
        logic.compose(test_images[0], "", *menus, *corrections)
    menus[groups.index("color")] = pred["color"]  # corrected to `other`: the menu at the reading is a request
    corrections[logic.schema.names.index("category")] = "dress"
    assert logic.compose(test_images[0], "", *menus, *corrections) == (f"color={pred['color']}",
                                                                        f"category=dress, color={other}")
    assert logic.compose(test_images[0], "make it dotted", *menus, *[AS_READ] * len(corrections)) == \
        ("pattern=dotted", "")
    # a correction moves its group's edit menu; back at "as read", the menu shows the reading again
    assert logic.menu_after_correction("sleeve", "short", pred)["value"] == "short"
    assert logic.menu_after_correction("sleeve", AS_READ, pred)["value"] == pred["sleeve"]
    assert logic.parse_source("") == {} and logic.parse_source("neck=collar,colour=Grey") == {
        "color": "gray", "neckline": "collar"}
    table, *rest = logic.analyse(test_images[0])
    presets, values, resets, seen = rest[:len(groups)], rest[len(groups)], rest[len(groups) + 1:-1], rest[-1]
    want = demo_server["retriever"].view(Image.open(test_images[0]))  # what search embeds, as a PNG
    assert np.array_equal(np.asarray(Image.open(seen).convert("RGB")), np.asarray(want))
    assert values == pred and [u["value"] for u in resets] == [AS_READ] * len(logic.schema.names)
    assert [row[1].split()[0] for row in table] == [pred[g.name] for g in logic.schema.groups]
    fl = demo_server["retriever"].flam  # the last column: FLAM's reading of the search feature
    flam_pred = fl.schema.decode(fl.predict_labels(demo_server["retriever"].embed(Image.open(test_images[0]))[None])[0])
    assert [row[3].split()[0] for row in table] == [flam_pred[g.name] for g in logic.schema.groups]
    assert [u["value"] for u in presets] == [pred[g] for g in groups]
    logic.store.close()


def test_start_up_builds_and_rebuilds_the_index(demo_server, tmp_path):
    """load_retriever builds a missing index, rebuilds one made by another model, notes FLAM's absence."""
    import json

    from amgan.errors import UserError
    from amgan.pretrained import model_id as file_sha256
    from demo.startup import ensure_synth_data, load_retriever

    emb, data, index = demo_server["embedder"], demo_server["data"], tmp_path / "gallery"
    r, notes, search_off, flam_off = load_retriever(emb, index, data, flam=tmp_path / "no_flam.pt", progress=False)
    meta = json.loads((index / "meta.json").read_text())
    assert meta["model_id"] == file_sha256(emb) and r.index.count == meta["count"] > 0
    assert r.flam is None and "no FLAM checkpoint" in flam_off and any("FLAM" in n for n in notes)
    meta["model_id"] = "0" * 64  # as if another embedder built it
    (index / "meta.json").write_text(json.dumps(meta))
    r2, *_ = load_retriever(emb, index, data, flam=None, progress=False)
    assert json.loads((index / "meta.json").read_text())["model_id"] == file_sha256(emb)
    assert r2.index.count == r.index.count
    none, notes, search_off, _ = load_retriever(tmp_path / "missing.pt", index, data)
    assert none is None and "no embedder checkpoint" in search_off and "search is off" in notes[0]
    assert ensure_synth_data(data) == data
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.txt").write_text("x")
    with pytest.raises(UserError, match="no manifest.csv"):
        ensure_synth_data(tmp_path / "junk")


def test_the_catalogue_is_the_real_photos_when_made_else_synthfashion(demo_server, photo_tiny, tmp_path, monkeypatch):
    """--data auto: the photo set when its manifest exists (every photo, all splits, indexed once), else
    SynthFashion (test split, shop views); an index whose items are not the catalogue's rows with today's labels
    (another data set, a label changed) is built again; a photo catalogue's thumbnails are small."""
    import csv
    import shutil

    import demo.startup as S
    from demo.render import THUMB_SIDE, PngStore

    photos, synth = tmp_path / "clothing", tmp_path / "synth"
    monkeypatch.setattr(S, "PHOTO_CATALOGUE", str(photos))
    monkeypatch.setattr(S, "SYNTH_CATALOGUE", str(synth))
    monkeypatch.setattr(S, "INDEX_FOR", {str(photos): str(tmp_path / "ix_photos"), str(synth): str(tmp_path / "ix")})
    assert S.resolve_catalogue("auto", "auto") == (synth, tmp_path / "ix")  # no photos made
    shutil.copytree(photo_tiny, photos)
    assert S.resolve_catalogue("auto", "auto") == (photos, tmp_path / "ix_photos")
    assert S.resolve_catalogue("auto", tmp_path / "mine") == (photos, tmp_path / "mine")
    assert S.resolve_catalogue(tmp_path / "other", "auto") == (tmp_path / "other", Path("runs/demo_gallery_other"))
    assert S.catalogue_rows(photos) == (None, "photo")
    assert S.catalogue_rows(demo_server["data"]) == ("test", "shop")

    emb, index = demo_server["embedder"], tmp_path / "ix_photos"
    r, *_ = S.load_retriever(emb, index, photos, flam=None, progress=False, split=None, view="photo")
    with open(photos / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert r.index.count == len(rows) and {it["split"] for it in r.index.metadata} == {x["split"] for x in rows}
    built = (index / "meta.json").stat().st_mtime_ns
    S.load_retriever(emb, index, photos, flam=None, progress=False, split=None, view="photo")
    assert (index / "meta.json").stat().st_mtime_ns == built  # the same items: not built again
    assert S._stale_items(r.index.metadata, photos, None, "photo") == ""
    assert "holds" in S._stale_items(r.index.metadata, demo_server["data"], "test", "shop")  # another data set
    rows[1]["color"] = "red" if rows[1]["color"] != "red" else "blue"  # a label changed since the index was built
    with open(photos / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert "labels changed" in S._stale_items(r.index.metadata, photos, None, "photo")
    r2, *_ = S.load_retriever(emb, index, photos, flam=None, progress=False, split=None, view="photo")
    assert r2.index.metadata[1]["attributes"]["color"] == rows[1]["color"]
    big = tmp_path / "big.png"
    Image.new("RGB", (600, 800), (10, 20, 30)).save(big)
    store = PngStore()
    try:
        with Image.open(store.thumb(str(big))) as im:
            assert max(im.size) == THUMB_SIDE and im.size[0] / im.size[1] == 0.75
    finally:
        store.close()


# ---------------------------------------------------------------- hardening
def test_long_requests_are_not_echoed_in_full(client, test_images):
    f = gradio_client.handle_file(test_images[0])
    for request, says in (("make it " + "z" * 3000, "characters long"),  # over the 500-character limit
                          ("make it " + "q" * 300, "no attribute value found")):  # under it, echoed by the parser
        with pytest.raises(gradio_client.exceptions.AppError) as e:
            client.predict(f, request, "whole", api_name="/edit")
        msg = str(e.value)
        assert says in msg and "z" * 100 not in msg and "q" * 100 not in msg and len(msg) < 800


def test_page_labels_are_names_the_requests_accept(client, demo_server, test_images):
    """The menus are labelled with the group names, the region says "color"; both spellings work."""
    from demo.layout import build_demo

    demo = build_demo(demo_server["editor"], demo_server["retriever"], store=None)
    labels = {c.get("props", {}).get("label") for c in demo.config["components"]}
    groups = [g.name for g in demo_server["editor"].schema.manipulable]
    assert set(groups) <= labels and "Region (color and pattern edits)" in labels
    f = gradio_client.handle_file(test_images[0])
    for request in ("color=red", "colour=red", "make it red"):
        assert client.predict(f, request, "torso", api_name="/edit")[3]["request"] == {"color": "red"}
    demo.logic.store.close()


def test_a_12_megapixel_upload_is_edited_at_full_size(client, test_images, tmp_path):
    """A phone-sized photo (4000x3000 JPEG) is edited at its own resolution: the edit comes back at
    4000x3000, the mask and CAM overlays at 1024x768 (they show where), and the page answers. A larger
    photo (6000x4500, 27 megapixels) is scaled to 4096 px on its longest side first."""
    big = tmp_path / "phone.jpg"
    Image.open(test_images[0]).convert("RGB").resize((4000, 3000), Image.BICUBIC).save(big, quality=90)
    t = time.perf_counter()
    edited, mask, cam, info = client.predict(gradio_client.handle_file(str(big)), "make it red", "whole",
                                             api_name="/edit")
    assert Image.open(edited).size == (4000, 3000) and info["size"] == [4000, 3000]
    assert Image.open(mask).size == Image.open(cam).size == (1024, 768)
    assert time.perf_counter() - t < 120
    *_, info = client.predict(gradio_client.handle_file(str(big)), "make it red", "whole", "both", 3,
                              api_name="/edit_and_search")
    assert len(info["amgan"]) == len(info["flam"]) == 3
    huge = tmp_path / "huge.jpg"
    Image.open(test_images[0]).convert("RGB").resize((6000, 4500), Image.BILINEAR).save(huge, quality=80)
    edited, *_, info = client.predict(gradio_client.handle_file(str(huge)), "make it red", "whole", api_name="/edit")
    assert Image.open(edited).size == (4096, 3072) and info["size"] == [4096, 3072]


def test_load_photo_scales_every_kind_of_input(tmp_path):
    from amgan.errors import ImageError
    from demo.handlers import WORK_SIDE, load_photo

    src = Image.linear_gradient("L").resize((3000, 4000)).convert("RGB")  # portrait, 12 megapixels
    src.save(tmp_path / "big.png")
    src.save(tmp_path / "big.jpg", quality=85)
    for photo in (src, str(tmp_path / "big.png"), str(tmp_path / "big.jpg")):
        out = load_photo(photo)
        assert out.size == (768, WORK_SIDE) and out.mode == "RGB"
    small = Image.new("RGBA", (40, 30), (255, 0, 0, 0))  # kept at its size; transparency on white
    assert load_photo(small).size == (40, 30) and load_photo(small).getpixel((0, 0)) == (255, 255, 255)
    with pytest.raises(ImageError, match="too narrow"):
        load_photo(Image.new("RGB", (20_000, 20)))


def test_the_default_queue_and_cache_are_bounded(demo_server):
    from demo.layout import DELETE_CACHE, QUEUE_SIZE, build_demo

    demo = build_demo(demo_server["editor"], demo_server["retriever"])
    assert demo._queue.max_size == QUEUE_SIZE == 16 and demo.delete_cache == DELETE_CACHE
    assert demo.config["dependencies"]  # built; the store it made is removed with close()
    root = demo.logic.store.root
    assert root.is_dir()
    demo.logic.store.close()
    assert not root.exists()


class _Slow:
    """The real editor, but each edit takes 1.5 s longer; asking for black raises a bare ValueError
    (a bug, not a user's mistake)."""

    def __init__(self, editor):
        self._editor = editor

    def __getattr__(self, name):
        return getattr(self._editor, name)

    def edit(self, image, request, **kw):
        if dict(request).get("color") == "black":
            raise ValueError("secret detail of a bug in the editor")
        time.sleep(1.5)
        return self._editor.edit(image, request, **kw)


@pytest.fixture(scope="module")
def odd_server(demo_server):
    """A server over a slow, sometimes failing editor and a search that always fails; queue: one
    request at a time, one waiting."""
    from conftest import serve_demo
    from fir.retriever import Retriever

    class Broken(Retriever):
        def search(self, image, k=10):
            raise RuntimeError("secret detail of a bug in the search")

    r = demo_server["retriever"]
    demo, url = serve_demo(_Slow(demo_server["editor"]), Broken(r.net, r.index, r.image_size, flam=None),
                           concurrency=1, max_queue=1)
    try:
        yield url
    finally:
        demo.close()
        demo.logic.store.close()


def test_bugs_are_logged_and_shown_as_an_internal_error(odd_server, test_images, caplog):
    c = gradio_client.Client(odd_server, analytics_enabled=False, verbose=False)
    f = gradio_client.handle_file(test_images[0])
    calls = [((f, 3), "/search", "secret detail of a bug in the search"),
             ((f, "color=black", "whole"), "/edit", "secret detail of a bug in the editor")]
    for args, api_name, detail in calls:
        with caplog.at_level("ERROR", logger="demo"):
            with pytest.raises(gradio_client.exceptions.AppError) as e:
                c.predict(*args, api_name=api_name)
        assert "Internal error" in str(e.value) and "server log" in str(e.value) and "secret" not in str(e.value)
        logged = [r for r in caplog.records if r.name == "demo" and r.exc_info]
        assert logged and detail in str(logged[-1].exc_info[1]) and "Traceback" in caplog.text
        caplog.clear()
    with pytest.raises(gradio_client.exceptions.AppError, match="nothing requested"):  # a UserError: its message
        c.predict(f, "", "whole", api_name="/edit")


def test_a_full_queue_refuses_with_a_clear_answer(odd_server, test_images):
    """One request runs (1.5 s), one waits; the others that come meanwhile are refused, and the
    server serves again afterwards."""
    f = gradio_client.handle_file(test_images[0])
    start = threading.Barrier(6)

    def user(_):
        c = gradio_client.Client(odd_server, analytics_enabled=False, verbose=False)
        start.wait()
        try:
            return c.predict(f, "color=red", "whole", api_name="/edit")[3]["request"]
        except gradio_client.utils.QueueError as e:  # "Queue is full! Please try again."
            return "refused: " + str(e)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(user, range(6)))
    served = [a for a in answers if a == {"color": "red"}]
    refused = [a for a in answers if isinstance(a, str)]
    assert len(served) + len(refused) == 6 and served and refused, answers
    assert all("Queue is full" in a for a in refused)
    c = gradio_client.Client(odd_server, analytics_enabled=False, verbose=False)
    assert c.predict(f, "color=red", "whole", api_name="/edit")[3]["request"] == {"color": "red"}


def test_a_port_in_use_is_one_line_naming_port(capsys):
    from demo.app import main
    from demo.startup import port_problem

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert "already in use" in port_problem("127.0.0.1", port)
        rc = main(["--port", str(port), "--editor", "no/such/editor.pt"])  # refused before any model loads
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "--port" in err and str(port) in err
    assert "demo: ready" not in err and "Traceback" not in err
    assert port_problem("127.0.0.1", port) is None  # free again


def test_main_serves_then_stops_and_leaves_no_temporary_files(demo_server, tmp_path):
    """`python -m demo.app` in a fresh process: builds the index, logs "ready" once it serves, answers,
    and on SIGTERM stops with exit code 0 and no folder of its own left in the temp folder."""
    from conftest import _free_port

    tmp, index, port = tmp_path / "tmp", tmp_path / "gallery", _free_port()
    tmp.mkdir()
    cmd = [sys.executable, "-m", "demo.app", "--editor", str(demo_server["editor_path"]),
           "--embedder", str(demo_server["embedder"]), "--flam", "none", "--data", str(demo_server["data"]),
           "--index", str(index), "--port", str(port)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp)}
    env.pop("GRADIO_TEMP_DIR", None)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 180
        while not any("ready in" in ln for ln in lines) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert any("ready in" in ln for ln in lines), "".join(lines)[-3000:]
        assert any("building the gallery index" in ln for ln in lines)
        assert any("FLAM (feature-level edits) is off" in ln for ln in lines)
        assert [d.name for d in tmp.iterdir() if d.name.startswith("amgan_demo_")]  # its folder, while it runs
        c = gradio_client.Client(f"http://127.0.0.1:{port}/", analytics_enabled=False, verbose=False)
        gallery, info = c.predict(gradio_client.handle_file(str(next(demo_server["data"].glob("images/*.png")))),
                                  3, api_name="/search")
        assert len(gallery) == 3
    finally:
        proc.terminate()
        rc = proc.wait(timeout=60)
        reader.join(timeout=10)
    assert rc == 0, "".join(lines)[-3000:]
    assert any("temporary files removed" in ln for ln in lines)
    assert not [d.name for d in tmp.iterdir() if d.name.startswith("amgan_demo_")]
    assert (index / "meta.json").is_file()


def test_png_store_prunes_results_and_keeps_the_catalogue(tmp_path):
    from demo.render import PngStore

    store = PngStore()
    root = store.root
    result = store(Image.new("RGB", (20, 20), "red"), "edited")
    Image.new("RGB", (20, 20), "blue").save(tmp_path / "item.png")
    thumb = store.thumb(str(tmp_path / "item.png"))
    assert store(Image.new("RGB", (20, 20), "red"), "edited") == result  # same content: same file
    assert store.prune() == 0 and os.path.exists(result)  # young
    assert store.prune(max_age=-1) == 1 and not os.path.exists(result) and os.path.exists(thumb)
    store.close()
    assert not root.exists()


def test_a_models_caveats_are_shown_with_the_edits_they_concern(client, demo_server, test_images):
    """The editor's caveats for the edited groups arrive in info["notes"], shown above the edit."""
    from demo.render import notes_markdown

    ed = demo_server["editor"]
    old = ed.caveats
    ed.caveats = {"pattern": "Pattern edits are weak with this model."}
    try:
        # "solid" is the generator's edit: the model's caveat for patterns comes with it
        *_, info = client.predict(gradio_client.handle_file(test_images[0]), "pattern=solid", "whole",
                                  api_name="/edit")
        assert info["notes"] == ["Pattern edits are weak with this model."]
        assert notes_markdown(info) == "**Note:** Pattern edits are weak with this model."
        *_, info = client.predict(gradio_client.handle_file(test_images[0]), "color=red", "whole", "amgan", 2,
                                  api_name="/edit_and_search")
        assert info["notes"] == [] and notes_markdown(info) == ""
        *_, info = client.predict(gradio_client.handle_file(test_images[0]), "pattern=solid", "whole", "amgan", 2,
                                  api_name="/edit_and_search")
        assert info["notes"] == ["Pattern edits are weak with this model."]
        # a drawn pattern is not the generator's: its note says how it was made, not the model's caveat
        *_, info = client.predict(gradio_client.handle_file(test_images[0]), "pattern=striped", "whole",
                                  api_name="/edit")
        from amgan.editor import PATTERN_NOTE

        assert info["notes"] == [PATTERN_NOTE]
    finally:
        ed.caveats = old


def test_even_colour_is_one_dye_for_this_edit_only(client, demo_server, test_images):
    """The "even colour" switch edits with Editor.edit(colour_spread=1) for that request, leaves the shared
    editor as it was, and is said in info; a value that is not true/false is a message."""
    ed, path = demo_server["editor"], test_images[0]
    before = ed.colour_spread
    edited, *_, info = client.predict(gradio_client.handle_file(path), "make it red", "whole", "", True,
                                      api_name="/edit")
    ref = ed.edit(Image.open(path), {"color": "red"}, colour_spread=1.0)
    assert np.abs(_png(edited) - np.asarray(ref.image).astype(int)).max() <= 1
    assert info["even_colour"] is True and ed.colour_spread == before
    *_, info = client.predict(gradio_client.handle_file(path), "make it red", "whole", "amgan", 2, "", True,
                              api_name="/edit_and_search")
    assert info["even_colour"] is True
    *_, info = client.predict(gradio_client.handle_file(path), "make it red", "whole", api_name="/edit")
    assert info["even_colour"] is False
    with pytest.raises(gradio_client.exceptions.AppError, match="even must be true or false"):
        client.predict(gradio_client.handle_file(path), "make it red", "whole", "", "very", api_name="/edit")
