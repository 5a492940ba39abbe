"""The shared training skeleton (amgan.training): the stats reporter, the stats/TensorBoard log,
run folders (refusals, config differences, orphaned temp files), the step loop's schedule."""
import json
import logging

import pytest
import torch


def test_collector_means_are_exact_over_an_interval():
    from amgan.training import Collector, report

    report("loss/x", torch.tensor(100.0))  # no collector open: ignored
    with Collector() as c:
        for v in (1.0, 2.0, 4.0):
            report("loss/a", torch.tensor(v))
        report("loss/b", torch.tensor([1.0, 2.0, 3.0, 6.0]))  # every element counts once
        report("loss/b", torch.tensor(3.0))
        report("lr", 0.5)  # plain numbers too
        first = c.update()
        assert first == {"loss/a": 7.0 / 3.0, "loss/b": 15.0 / 5.0, "lr": 0.5}
        assert list(first) == ["loss/a", "loss/b", "lr"]  # first-report order
        assert c.update() == {}  # reset by update
        report("loss/a", torch.tensor(-1.0, dtype=torch.bfloat16))
        report("loss/a", torch.tensor(0.25, dtype=torch.float16))
        assert c.update() == {"loss/a": -0.375}
    report("loss/a", torch.tensor(9.0))  # closed again: nothing collects
    assert c.update() == {}


def test_report_keeps_tensors_until_update():
    from amgan.training import Collector, report

    x = torch.tensor(2.0, requires_grad=True)
    with Collector() as c, Collector() as d:  # every open collector sees every report
        report("loss/y", x * 3)
        assert isinstance(c._sums["loss/y"], torch.Tensor) and not c._sums["loss/y"].requires_grad
        assert c.update() == d.update() == {"loss/y": 6.0}


def test_stats_log_writes_json_lines_and_tensorboard_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from amgan.training import StatsLog

    log = StatsLog(tmp_path / "stats.jsonl", tmp_path / "tb")
    log.write(10, {"loss/G/adv": 0.1234567891, "sec_per_step": 2.0, "note": "text"})
    log.write(20, {"loss/G/adv": 3.0, "queries": 7})
    log.close()
    rows = [json.loads(x) for x in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert rows == [{"step": 10, "loss/G/adv": 0.123457, "sec_per_step": 2.0, "note": "text"},
                    {"step": 20, "loss/G/adv": 3.0, "queries": 7}]
    ea = EventAccumulator(str(tmp_path / "tb"))
    ea.Reload()
    assert set(ea.Tags()["scalars"]) == {"loss/G/adv", "sec_per_step", "queries"}
    got = [(e.step, e.value) for e in ea.Scalars("loss/G/adv")]
    assert got[0][0] == 10 and got[0][1] == pytest.approx(0.1234567891) and got[1] == (20, 3.0)


def test_stats_log_resume_keeps_rows_up_to_the_step_and_purges_tensorboard(tmp_path, caplog):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from amgan.training import StatsLog

    log = StatsLog(tmp_path / "stats.jsonl", tmp_path / "tb")
    for s in (1, 2, 3):
        log.write(s, {"loss": float(s)})
    log.close()
    with open(tmp_path / "stats.jsonl", "a") as f:
        f.write('{"step": 4, "lo')  # torn
    with caplog.at_level(logging.WARNING):
        log = StatsLog(tmp_path / "stats.jsonl", tmp_path / "tb", start_step=2)
    assert f"{tmp_path / 'stats.jsonl'}: dropped a torn last line" in caplog.text
    log.write(3, {"loss": 30.0})
    log.close()
    assert [json.loads(x) for x in (tmp_path / "stats.jsonl").read_text().splitlines()] == \
        [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 2.0}, {"step": 3, "loss": 30.0}]
    ea = EventAccumulator(str(tmp_path / "tb"))
    ea.Reload()
    assert [(e.step, e.value) for e in ea.Scalars("loss")] == [(1, 1.0), (2, 2.0), (3, 30.0)]
    # a fresh start empties both logs
    StatsLog(tmp_path / "stats.jsonl", tmp_path / "tb").close()
    assert (tmp_path / "stats.jsonl").read_text() == ""
    ea = EventAccumulator(str(tmp_path / "tb"))
    ea.Reload()
    assert ea.Tags()["scalars"] == []


def test_a_bad_line_before_the_last_is_an_error_naming_the_line(tmp_path):
    from amgan.training import StatsFileError, truncate_stats

    p = tmp_path / "stats.jsonl"
    p.write_text('{"step": 1}\ngarbage\n{"step": 3}\n')
    with pytest.raises(StatsFileError, match=r"stats.jsonl:2: not a JSON stats row"):
        truncate_stats(p, 5)


def test_remove_orphan_tmp_only_touches_temp_files(tmp_path):
    from amgan.io import atomic_write_text
    from amgan.training import remove_orphan_tmp

    (tmp_path / "samples").mkdir()
    orphans = [tmp_path / ".checkpoint.pt.a1b2c3.tmp", tmp_path / "samples" / ".step000010.png.x.tmp"]
    keep = [tmp_path / "checkpoint.pt", tmp_path / "notes.tmp", tmp_path / ".hidden", tmp_path / "samples" / "a.png"]
    for p in orphans + keep:
        p.write_bytes(b"x")
    assert sorted(remove_orphan_tmp(tmp_path)) == sorted(orphans)
    assert not any(p.exists() for p in orphans) and all(p.exists() for p in keep)
    # by name only: another file's temp files stay
    other = tmp_path / ".other.pt.zz.tmp"
    mine = tmp_path / ".classifier.pt.zz.tmp"
    other.write_bytes(b"x")
    mine.write_bytes(b"x")
    assert remove_orphan_tmp(tmp_path, names=["classifier.pt"]) == [mine] and other.exists()
    atomic_write_text(tmp_path / "ok.txt", "done")  # a completed atomic save leaves no temp file
    assert not list(tmp_path.glob(".ok.txt.*"))


def test_config_diff_and_check_run(tmp_path):
    from amgan.checkpoint import save_checkpoint
    from amgan.training import RunError, check_run, config_diff

    a = {"train": {"seed": 0, "steps": 4, "out": "x", "threads": 1}, "model": {"w": [1, 2]}}
    b = {"train": {"seed": 1, "steps": 4, "out": "y", "threads": 2}, "model": {"w": (1, 3)}, "new": 5}
    assert config_diff(a, b) == ["model.w: [1, 2] -> [1, 3]", "new: '<absent>' -> 5", "train.seed: 0 -> 1"]
    assert config_diff(a, a) == []

    assert check_run(tmp_path / "fresh", a, resume=False) is None
    (tmp_path / "file").write_text("")
    with pytest.raises(RunError, match="is a file, not a run folder"):
        check_run(tmp_path / "file", a, resume=False)
    run = tmp_path / "run"
    run.mkdir()
    (run / "final.pt").write_text("")
    with pytest.raises(RunError, match="final.pt exists: pass --resume"):
        check_run(run, a, resume=False, outputs=("final.pt",))
    with pytest.raises(RunError, match="--resume: no checkpoint at"):
        check_run(run, a, resume=True)
    save_checkpoint(run / "checkpoint.pt", "t", step=3, config=a)
    with pytest.raises(RunError, match="checkpoint.pt exists"):
        check_run(run, a, resume=False)
    assert check_run(run, a, resume=True, kind="t")["step"] == 3
    with pytest.raises(RunError, match=r"another config \(model.w: \[1, 2\] -> \[1, 3\]; new: .*train.seed: 0 -> 1\)"):
        check_run(run, b, resume=True, kind="t")
    assert check_run(run, b, resume=True, kind="t", allow_config_change=True)["step"] == 3


def test_run_steps_schedule(tmp_path):
    from amgan.training import StatsLog, report, run_steps

    done, samples, saves = [], [], []

    def step(s):
        done.append(s)
        report("loss/v", torch.tensor(float(s)))

    stats = StatsLog(tmp_path / "stats.jsonl", None, start_step=0)
    run_steps(step, start=0, steps=7, log_every=3, stats=stats, sample_every=2, on_sample=samples.append,
              save_every=5, on_save=saves.append, extras=lambda k: {"k": k}, progress=False)
    assert done == list(range(7)) and samples == [2, 4, 6, 7] and saves == [5, 7]
    rows = [json.loads(x) for x in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert [(r["step"], r["k"], r["loss/v"]) for r in rows] == [(3, 3, 1.0), (6, 6, 4.0), (7, 7, 6.0)]
    # resumed at 5: steps 5 and 6 only, and the interval counts from there
    done.clear()
    run_steps(step, start=5, steps=7, log_every=3, stats=None, progress=False)
    assert done == [5, 6]
