"""A tiny end-to-end retrieval evaluation on synthetic data (real components, tiny models)."""
import json

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_evaluator(tiny_setup, tmp_path_factory):
    """An independent classifier (seed 1) on synth_tiny."""
    from amgan.config import load_config
    from amgan.train_classifier import train_classifier

    root, sets = tiny_setup
    out = tmp_path_factory.mktemp("evaluator") / "classifier.pt"
    train_classifier(load_config("configs/test_tiny.yaml", sets), out, seed=1, progress=False)
    return out


@pytest.fixture(scope="module")
def tiny_editor_64(tiny_editor_path, tmp_path_factory):
    """The tiny editor saved with a 64-px image processor (its generator is fully convolutional): an
    editor at another resolution than the 32-px embedder, like the 128-px default editor."""
    from amgan.image import ImageProcessor
    from amgan.pretrained import load_pretrained, save_pretrained

    p = load_pretrained(tiny_editor_path, kind="amgan-editor")
    p.model["classifier"] = {**p.model["classifier"], "image_processor": ImageProcessor(size=32).to_dict()}
    p.image_processor = ImageProcessor(size=64)
    return save_pretrained(tmp_path_factory.mktemp("editor64") / "editor64", p)


def test_fir_evaluate_end_to_end(synth_tiny, tiny_editor_path, tiny_editor_64, tiny_evaluator, tiny_setup, fir_run,
                                 flam_run, tmp_path, capsys):
    from fir.cli import main

    out = tmp_path / "report"
    sets = [f"data.root={synth_tiny}", f"editor={tiny_editor_path}", f"ablation_editor={tiny_editor_path}",
            f"extra_editor.path={tiny_editor_64}", "extra_editor.data_root=", "data.views=[shop,street]",
            f"embedder={fir_run / 'embedder.pt'}", f"flam={flam_run / 'flam.pt'}", f"evaluator={tiny_evaluator}",
            "latency_queries=2", "samples_per_group=1", "max_k=5", "ks=[1,5]", "batch_size=8", "bootstrap=200",
            "kid_size=32", "kid_images=12",
            # the real-photo section, on a set with masks and known labels standing in for photos
            f"photos.root={synth_tiny}", f"photos.reader={tiny_evaluator}", f"photos.evaluator={tiny_evaluator}",
            f"photos.embedder={fir_run / 'embedder.pt'}", f"photos.flam={flam_run / 'flam.pt'}",
            f"photos.editor={tiny_editor_path}", "photos.checked=", "photos.edit_photos=3",
            "photos.amgan_retrieval_edits=2", "photos.ks=[1,3]", "photos.samples=2"]
    rc = main(["evaluate", "--config", "configs/eval_synth64.yaml", "--out", str(out), "--no-progress"]
              + [a for s in sets for a in ("--set", s)])
    assert rc == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    P = m["protocol"]
    assert P["gallery"] == P["gallery_catalogue"] + P["gallery_edit_truths"]
    assert P["views"] == ["shop", "street"] and set(m["views"]) == {"shop", "street"}
    # the header: commit, date, versions, hardware and the sha256 of every model used
    H = m["header"]
    assert H["commit"] == "unknown" or len(H["commit"]) == 40
    assert {"python", "torch", "torchvision", "faiss", "kornia", "numpy"} <= set(H["versions"])
    assert H["hardware"]["cores"] >= 1 and H["hardware"]["cpu"]
    from amgan.pretrained import model_id

    assert H["models"]["extra_editor (amgan128)"]["sha256"] == model_id(tiny_editor_64)
    assert H["models"]["evaluator"]["sha256"] == model_id(tiny_evaluator)
    assert m["command"].startswith("fir evaluate --config configs/eval_synth64.yaml")
    for view, V in m["views"].items():
        VP = V["protocol"]
        assert VP["queries"] == sum(VP["queries_per_group"].values()) > 0
        assert set(V["methods"]) == {"unedited", "amgan", "amgan_region", "flam", "stargan", "amgan128", "truth"}
        for name, mm in V["methods"].items():
            r = mm["retrieval"]
            c = r["topk_curve"]
            assert len(c) == 5 and all(a <= b + 1e-9 for a, b in zip(c, c[1:])), name  # non-decreasing in k
            for k in ("top1", "top5", "exact_item@5"):  # every number sits inside its interval
                lo, hi = r["ci95"][k]
                assert lo - 1e-9 <= r[k] <= hi + 1e-9, (view, name, k)
        # the 64-px editor's edits are measured at the embedder's 32 px, like every other method
        assert "edit_quality" in V["methods"]["amgan128"]
        # groups: judged from the floor and the ceiling, with the reason in numbers
        for g, j in V["groups"].items():
            assert j["measurable"] == (j["lead"]["ci95"][0] >= P["measurable_margin"]), (view, g)
            assert f"{j['floor']:.3f}" in j["reason"] and f"{j['ceiling']:.3f}" in j["reason"]
        mg = V["methods"]["amgan"]["retrieval"]["measurable_groups"]
        assert mg["groups"] == [g for g, j in V["groups"].items() if j["measurable"]]
        # the bootstrap resamples products: fewer units than queries (each product has several edits)
        assert P["bootstrap_unit"] == "product"
        assert not mg["groups"] or 0 < mg["products"] <= mg["valid_queries"]
        assert V["differences"]["amgan-unedited"]["all"]["top5"]["clusters"] < V["differences"]["amgan-unedited"]["all"]["top5"]["n"]
        d = V["differences"]["amgan-stargan"]  # the same editor twice: no difference, and the interval says so
        assert d["all"]["top5"]["diff"] == 0 and d["all"]["top5"]["ci95"] == [0, 0] and d["edit_acc"]["diff"] == 0
        assert {"amgan-unedited", "flam-unedited", "amgan128-amgan"} <= set(V["differences"])
        kid = V["kid"]
        assert kid["feature"] == "KID (EfficientNet-Lite0 ImageNet features)" and kid["queries"] == min(12, VP["queries"])
        assert set(kid["methods"]) == {"unedited", "amgan", "amgan_region", "stargan", "amgan128", "truth"}
        assert kid["methods"]["amgan"]["kid"] == kid["methods"]["stargan"]["kid"]
        for k in kid["methods"].values():
            assert k["ci95"][0] <= k["kid"] <= k["ci95"][1]
    # the street view is consumer-to-shop: the truth's street render is not in the (shop) gallery
    assert m["views"]["shop"]["methods"]["truth"]["retrieval"]["top1"] == 1.0
    truth = m["views"]["shop"]["methods"]["truth"]["retrieval"]
    assert truth["valid_queries"] == m["views"]["shop"]["protocol"]["queries"] and truth["exact_item@5"] == 1.0
    am = m["views"]["shop"]["methods"]["amgan"]
    acc, n = am["edit_quality"]["edit_acc"], m["views"]["shop"]["protocol"]["queries"]
    assert abs(acc * n - round(acc * n)) < 0.01 * n  # a count over the queries (rounded to 4 places)
    assert m["views"]["shop"]["methods"]["truth"]["edit_quality"]["outside_change"] < 0.01
    assert m["methods"] == m["views"]["shop"]["methods"]  # older readers find the first view here
    assert not m["lpips"]["available"] and "not reported" in m["lpips"]["why"]
    assert set(m["region_specific"]) == {"sleeves", "torso"}
    assert m["latency"]["queries"] == 2 and m["latency"]["flam_manipulate_ms"] > 0
    md = (out / "report.md").read_text()
    assert "resamples test products" in md
    assert "AMGAN region-specific" in md and "FLAM (feature-level)" in md and "![samples_shop.png](samples_shop.png)" in md
    assert "Street view (consumer-to-shop)" in md and "KID (EfficientNet-Lite0 ImageNet features)" in md
    assert H["commit"] in md and "sha256" in md and model_id(tiny_editor_64) in md
    assert "FID" not in md.replace("FID/KID on Inception", "")  # named honestly
    import re

    assert re.search(r"\| \d\.\d{3} \[\d\.\d{2}, \d\.\d{2}\] \|", md)  # "0.925 [0.90, 0.95]"
    # real photos: their own section, made by the photo evaluations with this config's models
    Ph = m["photos"]
    assert set(Ph["reading"]["readers"]) == {f"evaluator ({tiny_evaluator.name})", f"classifier ({tiny_evaluator.name})",
                                             "FLAM (flam.pt)"}
    for r in Ph["reading"]["readers"].values():
        for cell in r["test_split"].values():
            assert cell["n"] == 0 or cell["ci95"][0] <= cell["acc"] <= cell["ci95"][1]
    ret = next(iter(Ph["reading"]["retrieval"]["by_embedder"].values()))
    assert ret["amgan_edited"]["all"]["valid"] <= 2 and "top3" in ret["plain"]
    E = Ph["edits"]
    assert E["photos"] == 3 and E["colour_edits"]["detail_kept"]["n"] > 0 and E["editor"] == str(tiny_editor_path)
    assert H["models"]["photos.editor"]["sha256"] == model_id(tiny_editor_path)
    assert "## Real photos" in md and "Retrieval among real photos" in md and "| colour edits |" in md
    assert "![samples_photos.jpg](samples_photos.jpg)" in md
    html = (out / "report.html").read_text()
    assert html.count("data:image/jpeg;base64,") == 1 and (out / "samples_photos.jpg").stat().st_size > 1000
    pngs = ("topk_curves.png", "per_group_top5.png", "kid.png", "samples_shop.png", "samples_street.png")
    assert html.count("data:image/png;base64,") == len(pngs) and "src=\"topk_curves.png\"" not in html
    for png in pngs:
        assert (out / png).stat().st_size > 1000


def test_old_single_view_configs_still_work():
    from fir.evaluate import eval_config_from_dict

    assert eval_config_from_dict({"data": {"view": "street"}}).data.all_views == ("street",)
    assert eval_config_from_dict({"data": {"views": ["shop", "street"]}}).data.all_views == ("shop", "street")
    from amgan.config import ConfigError

    with pytest.raises(ConfigError, match="views"):
        eval_config_from_dict({"data": {"views": ["shop", "shop"]}})
    with pytest.raises(ConfigError, match="differences"):
        eval_config_from_dict({"differences": ["amgan"]})


def test_extra_editor_data_root_must_hold_the_same_products(synth_tiny, fir_data, tiny_editor_64, tiny_setup):
    from amgan.editor import Editor
    from amgan.errors import UserError
    from amgan.image import ImageProcessor
    from fir.evaluate_data import load_queries, source_images

    ed = Editor.from_checkpoint(tiny_editor_64, device="cpu")
    proc = ImageProcessor(size=32)
    q = load_queries(synth_tiny, "test", "shop", proc, ed.schema, 4, False)
    x = source_images(ed, q, synth_tiny, str(synth_tiny), proc, False)  # the same set: read at the editor's size
    assert tuple(x.shape) == (4, 3, 64, 64)
    with pytest.raises(UserError, match="same products"):
        source_images(ed, q, synth_tiny, str(fir_data), proc, False)


def test_edits_reach_the_embedder_through_its_image_processor():
    """A 64-px edit becomes the 32-px image the embedder sees exactly as a 64-px file would."""
    from PIL import Image

    from amgan.image import ImageProcessor
    from fir.evaluate import to_processor

    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 3, 64, 64, generator=g)
    proc = ImageProcessor(size=32)
    out = to_processor(y, proc)
    u8 = (y.permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype("uint8")
    want = torch.from_numpy(proc.array(Image.fromarray(u8[1])).copy()).permute(2, 0, 1).float() / 255
    assert tuple(out.shape) == (2, 3, 32, 32) and torch.equal(out[1], want)


def test_fir_evaluate_refuses_the_gan_classifier_as_evaluator(synth_tiny, tiny_editor_path, tiny_setup, fir_run,
                                                               tmp_path, capsys):
    from fir.cli import main

    root, _ = tiny_setup
    sets = [f"data.root={synth_tiny}", f"editor={tiny_editor_path}", f"embedder={fir_run / 'embedder.pt'}",
            f"evaluator={root / 'classifier.pt'}", "flam=", "ablation_editor="]
    rc = main(["evaluate", "--config", "configs/eval_synth64.yaml", "--out", str(tmp_path / "r"), "--no-progress"]
              + [a for s in sets for a in ("--set", s)])
    assert rc == 2 and "independent" in capsys.readouterr().err


def test_the_header_names_the_code_the_run_started_with():
    """A long evaluation takes the commit when it starts: the tree may move on before the header is written."""
    from fir.run_info import git_commit, run_header

    assert run_header({}, ("0" * 40, []))["commit"] == "0" * 40
    assert run_header({})["commit"] == git_commit()[0]
