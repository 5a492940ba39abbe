"""The Gradio demo through gradio_client, against a real local server on tiny models (fixture
``demo_server`` in conftest.py): each named endpoint, user mistakes as messages, concurrent users."""
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
        "image", "request", "region", "method", "k"]
    assert len(api["/edit_and_search"]["returns"]) == 6 and len(api["/search"]["returns"]) == 2


def test_edit_matches_the_editor(client, demo_server, test_images):
    from amgan.editor import to_rgb
    from demo.app import cam_overlay, mask_overlay

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


BAD_CALLS = [
    ("/edit", (None, "color=red", "whole"), "No image"),
    ("/edit", ("TEXT", "color=red", "whole"), "Not an image"),
    ("/edit", ("IMG", "colour=red", "whole"), "unknown attribute group 'colour'; valid groups: category, color"),
    ("/edit", ("IMG", "color=chartreuse", "whole"), "valid values: black, white, gray"),
    ("/edit", ("IMG", "make it sparkly", "whole"), "no attribute value found"),
    ("/edit", ("IMG", "", "whole"), "nothing requested"),
    ("/edit", ("IMG", "category=dress", "whole"), "cannot be edited"),
    ("/edit", ("IMG", '{"color": ', "whole"), "not valid JSON"),
    ("/edit", ("IMG", "long sleeves", "sleeves"), "cannot change the sleeve length"),
    ("/edit", ("IMG", "color=red", "elbows"), "not in the list of choices"),
    ("/search", ("IMG", 0), "minimum"),
    ("/search", ("IMG", 31), "maximum"),
    ("/search", ("TINY", 3), "at least 16 pixels"),
    ("/edit_and_search", ("IMG", "color=red", "whole", "amgan", 2.5), "whole number"),
    ("/edit_and_search", ("IMG", "color=red", "whole", "telepathy", 3), "not in the list of choices"),
    ("/edit_and_search", ("IMG", "sleeve=short", "torso", "both", 3), "cannot change the sleeve length"),
]


@pytest.mark.parametrize("api_name,args,message", BAD_CALLS, ids=[f"{a}-{m}" for a, _, m in BAD_CALLS])
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
    """FLAM alone: no image edit; matches are the retriever's FLAM search from FLAM's own reading of the photo."""
    ed, r, path = demo_server["editor"], demo_server["retriever"], test_images[4]
    edited, mask, cam, g_amgan, g_flam, info = client.predict(
        gradio_client.handle_file(path), "make it blue", "sleeves", "flam", 5, api_name="/edit_and_search")
    assert edited is None and mask is None and cam is None and g_amgan == [] and "amgan" not in info
    pred = {g: max(p, key=p.get) for g, p in ed.predict(Image.open(path)).items()}
    ref = r.flam_search(Image.open(path), {"color": "blue"}, k=5)
    assert _gallery_ids(g_flam, info["flam"]) == [h.id for h in ref.hits]
    assert info["flam_source"] == ref.source and ref.target == {**ref.source, "color": "blue"}
    assert info["predicted"] == pred and info["target"] == {**pred, "color": "blue"}
    assert any("region applies to AMGAN only" in n for n in info["notes"])
    assert set(info["timings_ms"]) == {"predict", "flam", "total"}
    assert set(info["timings_ms"]["flam"]) == {"embed", "manipulate", "search"}


def test_edit_and_search_both_side_by_side(client, demo_server, test_images):
    ed, r, path = demo_server["editor"], demo_server["retriever"], test_images[5]
    edited, _, _, g_amgan, g_flam, info = client.predict(
        gradio_client.handle_file(path), "pattern=striped", "whole", "both", 3, api_name="/edit_and_search")
    ref = ed.edit(Image.open(path), {"pattern": "striped"})
    assert np.abs(_png(edited) - np.asarray(ref.image).astype(int)).max() <= 1
    assert _gallery_ids(g_amgan, info["amgan"]) == [h.id for h in r.search(ref.image, 3).hits]
    flam = r.flam_search(Image.open(path), {"pattern": "striped"}, k=3)
    assert _gallery_ids(g_flam, info["flam"]) == [h.id for h in flam.hits]
    assert info["notes"] == [] and set(info["timings_ms"]) == {"edit", "search", "flam", "total"}


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
        client.predict(gradio_client.handle_file(test_images[0]), "colour=red", "whole", api_name="/edit")
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

    from demo.app import DemoLogic

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
    table, *presets = logic.analyse(test_images[0])
    assert [row[1].split()[0] for row in table] == [pred[g.name] for g in logic.schema.groups]
    fl = demo_server["retriever"].flam  # the last column: FLAM's reading of the search feature
    flam_pred = fl.schema.decode(fl.predict_labels(demo_server["retriever"].embed(Image.open(test_images[0]))[None])[0])
    assert [row[3].split()[0] for row in table] == [flam_pred[g.name] for g in logic.schema.groups]
    assert [u["value"] for u in presets] == [pred[g] for g in groups]


def test_start_up_builds_and_rebuilds_the_index(demo_server, tmp_path):
    """load_retriever builds a missing index, rebuilds one made by another model, notes FLAM's absence."""
    import json

    from amgan.checkpoint import file_sha256
    from demo.app import ensure_synth_data, load_retriever

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
    with pytest.raises(FileNotFoundError, match="no manifest.csv"):
        ensure_synth_data(tmp_path / "junk")
