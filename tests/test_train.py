"""Training: smoke run through main(argv), exact resume, refused resumes, DDP on gloo with 2 processes."""
import json
import logging
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from amgan.config import load_config


def _argv(sets, out, *extra):
    argv = ["--config", "configs/test_tiny.yaml", "--no-progress", "--set", f"train.out={out}"]
    for s in sets + list(extra):
        argv += ["--set", s]
    return argv


def _steps(out):
    return [json.loads(line)["step"] for line in (out / "stats.jsonl").read_text().splitlines()]


def test_main_smoke_writes_a_complete_run(tiny_setup, tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from amgan.cli import main as cli_main
    from amgan.train import main
    from amgan.training import RunError

    _, sets = tiny_setup
    out = tmp_path / "run"
    argv = _argv(sets, out)
    assert main(argv) == 0
    for f in ("config.yaml", "stats.jsonl", "checkpoint.pt", "editor.pt", "samples/step000004.png"):
        assert (out / f).exists(), f
    assert load_config(out / "config.yaml") == load_config("configs/test_tiny.yaml", sets + [f"train.out={out}"])
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert "loss/G/att" in rows[-1] and "loss/D_C/gp" in rows[-1] and "sec_per_step" in rows[-1]
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 4 and set(ck) >= {"G", "G_ema", "D_I", "D_C", "opt_G", "opt_D", "config", "schema"}
    # the same scalars as TensorBoard events in the run folder
    ea = EventAccumulator(str(out / "tensorboard"))
    ea.Reload()
    assert {"loss/G/adv", "loss/D_C/gp", "loss/G/total", "sec_per_step"} <= set(ea.Tags()["scalars"])
    g = [(e.step, e.value) for e in ea.Scalars("loss/G/total")]
    assert [st for st, _ in g] == [1, 2, 3, 4]
    assert g[-1][1] == pytest.approx(rows[-1]["loss/G/total"], rel=1e-5)
    # a second start without --resume refuses to overwrite: one line through the CLI
    with pytest.raises(RunError, match="checkpoint.pt exists: pass --resume"):
        main(argv)
    capsys.readouterr()
    assert cli_main(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert "pass --resume" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_ablation_config_drops_dc_attention_and_perceptual(tiny_setup, tmp_path):
    from amgan.train import Trainer

    root, sets = tiny_setup
    cfg = load_config("configs/test_tiny.yaml", sets + ["loss.use_dc=false", "loss.lambda_att=0", "loss.lambda_perc=0"])
    from amgan.training import Collector

    t = Trainer(cfg, tmp_path, device="cpu", progress=False)
    with Collector() as c:
        t.train_step()
        parts = c.update()
    assert t.nets.D_C is None and {"loss/G/adv", "loss/D/gp", "loss/G/total"} <= set(parts)
    assert not any(k.startswith(("loss/D_C/", "loss/G_C/")) for k in parts)
    assert "loss/G/att" not in parts and "loss/G/perc" not in parts


def test_resume_is_exact(tiny_setup, tmp_path):
    from amgan.train import Trainer

    _, sets = tiny_setup
    cfg = load_config("configs/test_tiny.yaml", sets)
    straight = Trainer(cfg, tmp_path / "a", device="cpu", progress=False)
    for _ in range(4):
        straight.train_step()
    first = Trainer(cfg, tmp_path / "b", device="cpu", progress=False)
    first.train_step()
    first.train_step()
    first.save()
    resumed = Trainer(cfg, tmp_path / "b", device="cpu", progress=False)
    resumed.load(tmp_path / "b" / "checkpoint.pt")
    assert resumed.step == 2
    resumed.train_step()
    resumed.train_step()
    for name in ("G", "G_ema", "D_I", "D_C"):
        a, b = getattr(straight.nets, name).state_dict(), getattr(resumed.nets, name).state_dict()
        for k in a:
            assert torch.equal(a[k], b[k]), f"{name}.{k} differs after resume"
    assert straight.opt_G.state_dict()["state"][0]["exp_avg"].equal(resumed.opt_G.state_dict()["state"][0]["exp_avg"])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, sets, out):
    import torch.distributed as dist

    from amgan.checkpoint import unwrap
    from amgan.train import Trainer

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        cfg = load_config("configs/test_tiny.yaml", sets + [f"train.out={out}", "train.steps=3", "train.save_every=3"])
        t = Trainer(cfg, out, device="cpu", rank=rank, world=world, progress=False)
        t.wrap_ddp()
        t.fit()
        torch.save({"G": unwrap(t.nets.G).state_dict(), "D_I": unwrap(t.nets.D_I).state_dict()},
                   os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_ddp_gloo_two_processes_keep_replicas_identical(tiny_setup, tmp_path):
    _, sets = tiny_setup
    mp.spawn(_ddp_worker, args=(2, _free_port(), sets, str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for net in ("G", "D_I"):
        for k in r0[net]:
            assert torch.allclose(r0[net][k], r1[net][k], atol=1e-6), f"{net}.{k} differs between ranks"
    init = load_config("configs/test_tiny.yaml", sets)
    assert init.train.steps == 4  # the config file itself is untouched by overrides
    assert (tmp_path / "checkpoint.pt").exists() and torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 3


def test_ema_warmup_and_stats_truncation(tmp_path, caplog):
    from amgan.train import ema_decay_at, truncate_stats

    assert ema_decay_at(0, 0.999) == pytest.approx(0.1)
    assert ema_decay_at(100, 0.999) == pytest.approx(101 / 110)
    assert ema_decay_at(10**6, 0.999) == 0.999
    p = tmp_path / "stats.jsonl"
    p.write_text("".join(json.dumps({"step": s}) + "\n" for s in (10, 20, 30)))
    truncate_stats(p, 20)
    assert [json.loads(x)["step"] for x in p.read_text().splitlines()] == [10, 20]
    p.write_text(p.read_text() + '{"step": 30, "loss/G')  # a run killed while writing its last line
    with caplog.at_level(logging.WARNING):
        truncate_stats(p, 20)
    assert [json.loads(x)["step"] for x in p.read_text().splitlines()] == [10, 20]
    assert str(p) in caplog.text and "torn" in caplog.text


def test_resume_drops_torn_rows_and_orphans_then_continues(tiny_setup, tmp_path, caplog):
    from amgan.train import main

    _, sets = tiny_setup
    out = tmp_path / "run"
    assert main(_argv(sets, out, "train.steps=2", "train.save_every=2")) == 0
    # a later, killed session: rows past the checkpoint, a torn last line, half-written atomic saves
    with open(out / "stats.jsonl", "a") as f:
        f.write(json.dumps({"step": 3, "loss/G/total": 9.0}) + "\n" + '{"step": 4, "loss/G/to')
    orphans = [out / ".checkpoint.pt.k1ll3d.tmp", out / "samples" / ".step000004.png.zz9.tmp"]
    for o in orphans:
        o.write_bytes(b"partial")
    # a longer run is a config change: refused unless allowed
    with pytest.raises(ValueError, match=r"train.steps: 2 -> 4.*--allow-config-change"):
        main(_argv(sets, out, "train.steps=4", "train.save_every=2") + ["--resume"])
    with caplog.at_level(logging.WARNING):
        assert main(_argv(sets, out, "train.steps=4", "train.save_every=2") + ["--resume", "--allow-config-change"]) == 0
    assert f"{out / 'stats.jsonl'}: dropped a torn last line" in caplog.text
    assert _steps(out) == [1, 2, 3, 4]  # the old row 3 is gone, not duplicated
    assert not any(o.exists() for o in orphans)
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 4
    assert load_config(out / "config.yaml").train.steps == 4


@pytest.mark.parametrize("change, needle", [
    ("train.seed=1", "train.seed: 0 -> 1"),
    ("model.g_width=16", "model.g_width: 8 -> 16"),
    ("loss.lambda_cyc=5", "loss.lambda_cyc: 10.0 -> 5.0"),
])
def test_resume_with_a_changed_config_names_the_keys(tiny_setup, tmp_path, change, needle):
    from amgan.train import main
    from amgan.training import RunError

    _, sets = tiny_setup
    out = tmp_path / "run"
    assert main(_argv(sets, out, "train.steps=2")) == 0
    before = (out / "stats.jsonl").read_text()
    with pytest.raises(RunError) as e:
        main(_argv(sets, out, "train.steps=2", change) + ["--resume"])
    assert needle in str(e.value) and "--allow-config-change" in str(e.value) and "\n" not in str(e.value)
    assert (out / "stats.jsonl").read_text() == before  # refused before anything was touched
    if change.startswith("model."):  # allowed, a changed network still cannot load: one line, not a traceback
        with pytest.raises(RunError, match=r"does not fit the configured networks .*model"):
            main(_argv(sets, out, "train.steps=2", change) + ["--resume", "--allow-config-change"])


def test_resume_without_a_checkpoint_is_refused(tiny_setup, tmp_path):
    from amgan.train import main
    from amgan.training import RunError

    _, sets = tiny_setup
    with pytest.raises(RunError, match="--resume: no checkpoint at"):
        main(_argv(sets, tmp_path / "none") + ["--resume"])


def test_resume_from_a_stored_state_continues_exactly_in_a_new_folder(tiny_setup, tmp_path, capsys):
    """A fresh machine: the run folder is gone, only the training state travelled (e.g. committed beside
    the model as train_state.pt). ``--resume-from`` continues it in a new train.out, bit for bit."""
    from amgan.cli import main as cli_main
    from amgan.train import Trainer, main
    from amgan.training import RunError

    _, sets = tiny_setup
    assert main(_argv(sets, tmp_path / "straight")) == 0  # 4 steps in one go
    first = Trainer(load_config("configs/test_tiny.yaml", sets + [f"train.out={tmp_path / 'gone'}"]),
                    tmp_path / "gone", device="cpu", progress=False)
    first.train_step()
    first.train_step()
    first.save()
    state = tmp_path / "models" / "train_state.pt"
    state.parent.mkdir()
    (tmp_path / "gone" / "checkpoint.pt").rename(state)
    assert cli_main(["train", *_argv(sets, tmp_path / "new"), "--resume-from", str(state)]) == 0
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "new" / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 4
    for net in ("G", "G_ema", "D_I", "D_C"):
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k} differs after --resume-from"
    assert _steps(tmp_path / "new") == [3, 4]  # the new folder logs the continued steps only
    capsys.readouterr()
    # refused: both flags; a folder that holds a run; a missing state; another config (keys named)
    with pytest.raises(RunError, match="exclude each other"):
        main(_argv(sets, tmp_path / "x") + ["--resume", "--resume-from", str(state)])
    with pytest.raises(RunError, match="already holds a run"):
        main(_argv(sets, tmp_path / "new") + ["--resume-from", str(state)])
    with pytest.raises(RunError, match="no training state at"):
        main(_argv(sets, tmp_path / "x") + ["--resume-from", str(tmp_path / "nope.pt")])
    with pytest.raises(RunError, match=r"--resume-from: .*train.seed: 0 -> 3"):
        main(_argv(sets, tmp_path / "x", "train.seed=3") + ["--resume-from", str(state)])
    assert not (tmp_path / "x").exists()  # every refusal came before anything was written


def test_init_from_starts_g_from_an_editor_and_the_critics_afresh(tiny_setup, tiny_editor_path, tmp_path):
    from amgan.config import ConfigError
    from amgan.pretrained import load_pretrained
    from amgan.train import Trainer

    _, sets = tiny_setup
    cfg = load_config("configs/test_tiny.yaml", sets)
    fresh = Trainer(cfg, tmp_path / "fresh", device="cpu", progress=False)
    warm = Trainer(load_config("configs/test_tiny.yaml", sets + [f"train.init_from={tiny_editor_path}"]),
                   tmp_path / "warm", device="cpu", progress=False)
    g = load_pretrained(tiny_editor_path, kind="amgan-editor").weights["G"]
    for k, v in g.items():
        assert torch.equal(warm.nets.G.state_dict()[k], v.float()) and torch.equal(warm.nets.G_ema.state_dict()[k],
                                                                                     v.float()), k
    assert any(not torch.equal(fresh.nets.G.state_dict()[k], v.float()) for k, v in g.items())
    for k, v in fresh.nets.D_I.state_dict().items():  # the critics: a fresh run's, from the seed
        assert torch.equal(warm.nets.D_I.state_dict()[k], v), k
    assert warm.step == 0
    warm.train_step()  # and it trains
    with pytest.raises(ConfigError, match=r"train.init_from: .* does not fit this config \(width: 8 there, 16 here"):
        Trainer(load_config("configs/test_tiny.yaml", sets + [f"train.init_from={tiny_editor_path}", "model.g_width=16"]),
                tmp_path / "w16", device="cpu", progress=False)
    with pytest.raises(ConfigError, match="train.init_from: .* does not exist"):
        Trainer(load_config("configs/test_tiny.yaml", sets + [f"train.init_from={tmp_path / 'none'}"]),
                tmp_path / "none", device="cpu", progress=False)


@pytest.mark.parametrize("bad", ["train.steps=0", "train.steps=-1", "train.save_every=0", "train.lr_g=0"])
def test_bad_values_are_refused_before_data_loads(tmp_path, bad):
    from amgan.config import ConfigError
    from amgan.train import main

    out = tmp_path / "run"
    argv = _argv([f"data.root={tmp_path / 'no_data'}", f"classifier.checkpoint={tmp_path / 'no.pt'}"], out, bad)
    with pytest.raises(ConfigError, match=bad.split("=")[0] + " must be"):
        main(argv)
    assert not out.exists() and not (tmp_path / "no_data").exists()  # nothing rendered, nothing written


def test_lr_schedule_is_linear_decay_over_second_half():
    from amgan.train import lr_factor

    cfg = load_config("configs/test_tiny.yaml", ["train.steps=100", "train.decay_start=0.5"])
    assert [lr_factor(s, cfg) for s in (0, 49, 50, 75, 100)] == [1.0, 1.0, 1.0, 0.5, 0.0]


def test_bf16_autocast_on_the_cpu_trains_and_differs_from_fp32(tiny_setup, tmp_path):
    """train.amp_cpu runs the GAN step under CPU bf16 autocast: finite losses, weights move, and the
    result is not the fp32 step's (so the path really ran in bf16)."""
    from amgan.train import Trainer
    from amgan.training import Collector

    _, sets = tiny_setup
    weights = {}
    for amp in (False, True):
        cfg = load_config("configs/test_tiny.yaml", sets + [f"train.amp_cpu={str(amp).lower()}"])
        t = Trainer(cfg, tmp_path / str(amp), device="cpu", progress=False)
        before = {k: v.clone() for k, v in t.nets.G.state_dict().items()}
        with Collector() as c:
            t.train_step()
            parts = c.update()
        assert all(torch.isfinite(torch.as_tensor(v)).all() for v in parts.values())
        after = t.nets.G.state_dict()
        assert any(not torch.equal(before[k], after[k]) for k in before), "the generator did not move"
        weights[amp] = after
    assert any(not torch.equal(weights[False][k], weights[True][k]) for k in weights[False])


def test_the_trainer_builds_its_d_c_with_region_discriminator(tiny_setup, tmp_path):
    from amgan.nets.discriminator import region_discriminator
    from amgan.train import Trainer

    _, sets = tiny_setup
    cfg = load_config("configs/test_tiny.yaml", sets)
    t = Trainer(cfg, tmp_path, device="cpu", progress=False)
    ref = region_discriminator(cfg.data.size, t.schema.sizes, width=cfg.model.d_width, n_layers=cfg.model.d_layers)
    assert [tuple(p.shape) for p in t.nets.D_C.parameters()] == [tuple(p.shape) for p in ref.parameters()]
    assert len(list(t.nets.D_C.parameters())) < len(list(t.nets.D_I.parameters()))  # two fewer conv layers


def _photo_root(synth_tiny, dst, blank=("pattern", "neckline")):
    """A 'photo' data set made of synth_tiny's train rows: view photo, some groups unknown (empty cells)."""
    import csv
    import shutil

    rows = list(csv.DictReader(open(synth_tiny / "manifest.csv", newline="")))
    rows = [r for r in rows if r["split"] == "train" and r["view"] == "shop"][:12]
    (dst / "images").mkdir(parents=True)
    out = []
    for i, r in enumerate(rows):
        shutil.copy(synth_tiny / r["path"], dst / "images" / f"ph{i:03d}.png")
        row = {**r, "path": f"images/ph{i:03d}.png", "product_id": f"ph{i:03d}", "view": "photo", "mask": ""}
        for g in blank:
            row[g] = ""
        out.append(row)
    shutil.copy(synth_tiny / "schema.json", dst / "schema.json")
    with open(dst / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out[0]))
        w.writeheader()
        w.writerows(out)
    return len(out) * len(blank)


def test_photo_roots_join_training_with_unknown_labels_masked(tiny_setup, synth_tiny, tmp_path):
    from amgan.train import Trainer

    _, sets = tiny_setup
    n_blank = _photo_root(synth_tiny, tmp_path / "photos")
    (tmp_path / "excl.csv").write_text("image\nph000.jpg\n")  # stems: ph000 is never trained on
    cfg = load_config("configs/test_tiny.yaml", sets + [f"data.photo_roots=[{tmp_path / 'photos'}]",
                                                         "data.photo_fraction=0.5", f"data.exclude={tmp_path / 'excl.csv'}",
                                                         "model.g_upsample=resize", "model.d_max_width=16"])
    tr = Trainer(cfg, tmp_path / "run", device="cpu", progress=False)
    n_photo = len(tr.data) - tr.n_render
    assert n_photo == 11 and all(v == "photo" for v in tr.data.views[tr.n_render:])
    assert tr.pseudo_filled == n_blank - 2  # ph000's two blanks left out with it
    # unknowns stay -1 for D (masked there) and are filled for G's conditioning
    gi = tr.schema.group_index("pattern")
    assert (tr.known[tr.n_render:, gi] == -1).all() and (tr.data.labels[:, gi] >= 0).all()
    assert (tr.known[:tr.n_render] >= 0).all()
    x, c, c_known = tr._batch(torch.Generator().manual_seed(0))
    assert (c_known[:2, gi] == -1).all() and (c_known[2:] >= 0).all()  # half of the batch of 4 are photos
    assert max(m.out_channels for m in tr.nets.D_I.body if isinstance(m, torch.nn.Conv2d)) == 16
    tr.train_step()
    assert tr.step == 1


def test_max_minutes_stops_saves_and_exports(tiny_setup, tmp_path):
    from amgan.train import main

    _, sets = tiny_setup
    out = tmp_path / "run"
    assert main(_argv(sets, out, "train.max_minutes=0.000001", "train.steps=50", "train.save_every=50")) == 0
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 1 and (out / "editor.pt").exists() and _steps(out) == [1]
    # the budget is a runtime key: a resume with another budget continues the same run
    assert main(_argv(sets, out, "train.max_minutes=0", "train.steps=3", "train.save_every=50")
                + ["--resume", "--allow-config-change"]) == 0
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 3


def test_keep_editors_writes_one_editor_per_save_with_its_training_seconds(tiny_setup, tmp_path):
    from amgan.pretrained import load_pretrained
    from amgan.train import main

    _, sets = tiny_setup
    out = tmp_path / "run"
    assert main(_argv(sets, out, "train.keep_editors=true")) == 0
    eds = sorted(p.name for p in (out / "editors").iterdir())
    assert eds == ["editor_step000002.pt", "editor_step000004.pt"]
    a, b = (load_pretrained(out / "editors" / n) for n in eds)
    assert a.info["step"] == 2 and b.info["step"] == 4 and 0 < a.info["seconds"] < b.info["seconds"]


def test_classifier_trains_on_renders_and_photos_with_unknown_labels_masked(synth_tiny, photo_tiny, tmp_path):
    """data.photo_roots in `amgan train-classifier`: photo rows join the batches (photo_fraction), their
    unknown labels are left out of the loss and of the accuracy, and the photos' test split is reported."""
    import math

    from amgan.train_classifier import evaluate_classifier, load_classifier, train_classifier
    from amgan.data.memory import load_memory

    sets = [f"data.root={synth_tiny}", f"data.photo_roots=[{photo_tiny}]", "data.photo_fraction=0.5",
            "classifier.steps=6", "train.threads=1"]
    out = tmp_path / "classifier.pt"
    res = train_classifier(load_config("configs/test_tiny.yaml", sets), out, progress=False)
    assert res["photo_rows"] > 0 and res["photo_roots"] == [str(photo_tiny)]
    photo_acc = res["test_accuracy"][f"photos:{photo_tiny}"]
    assert photo_acc["pattern"] is None and photo_acc["neckline"] is None  # never known on these photos
    assert 0.0 <= photo_acc["category"] <= 1.0
    rows = [json.loads(line) for line in (tmp_path / "classifier.stats.jsonl").read_text().splitlines()]
    assert rows and all(math.isfinite(r["loss/C/ce"]) for r in rows if "loss/C/ce" in r)
    # the masked accuracy counts known labels only: colour is known on 2 of 3 photo rows
    net, _ = load_classifier(out)
    test = load_memory(photo_tiny, 32, ("test",), None, progress=False)
    known = int((test.labels[:, test.schema.group_index("color")] >= 0).sum())
    assert 0 < known < len(test)
    acc = evaluate_classifier(net, test)["color"]
    assert acc is not None and round(acc * known) == pytest.approx(acc * known, abs=1e-3)
