"""Training: smoke run through main(argv), exact resume, DDP on gloo with 2 processes."""
import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from amgan.config import load_config


def test_main_smoke_writes_a_complete_run(tiny_setup, tmp_path):
    from amgan.train import main

    _, sets = tiny_setup
    out = tmp_path / "run"
    argv = ["--config", "configs/test_tiny.yaml", "--no-progress", "--set", f"train.out={out}"]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 0
    for f in ("config.yaml", "stats.jsonl", "checkpoint.pt", "editor.pt", "samples/step000004.png"):
        assert (out / f).exists(), f
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 4 and "loss/G/att" in rows[-1] and "loss/D_C/gp" in rows[-1]
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 4 and set(ck) >= {"G", "G_ema", "D_I", "D_C", "opt_G", "opt_D", "config", "schema"}
    # a second start without --resume refuses to overwrite
    with pytest.raises(FileExistsError):
        main(argv)


def test_ablation_config_drops_dc_attention_and_perceptual(tiny_setup, tmp_path):
    from amgan.train import Trainer

    root, sets = tiny_setup
    cfg = load_config("configs/test_tiny.yaml", sets + ["loss.use_dc=false", "loss.lambda_att=0", "loss.lambda_perc=0"])
    t = Trainer(cfg, tmp_path, device="cpu", progress=False)
    parts = t.train_step()
    assert t.nets.D_C is None
    assert not any(k.startswith(("D_C/", "G_C/")) for k in parts) and "G/att" not in parts and "G/perc" not in parts


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


def test_ema_warmup_and_stats_truncation(tmp_path):
    from amgan.train import ema_decay_at, truncate_stats

    assert ema_decay_at(0, 0.999) == pytest.approx(0.1)
    assert ema_decay_at(100, 0.999) == pytest.approx(101 / 110)
    assert ema_decay_at(10**6, 0.999) == 0.999
    p = tmp_path / "stats.jsonl"
    p.write_text("".join(json.dumps({"step": s}) + "\n" for s in (10, 20, 30)))
    truncate_stats(p, 20)
    assert [json.loads(x)["step"] for x in p.read_text().splitlines()] == [10, 20]


def test_lr_schedule_is_linear_decay_over_second_half():
    from amgan.train import lr_factor

    cfg = load_config("configs/test_tiny.yaml", ["train.steps=100", "train.decay_start=0.5"])
    assert [lr_factor(s, cfg) for s in (0, 49, 50, 75, 100)] == [1.0, 1.0, 1.0, 0.5, 0.0]
