"""A smaller generator taught by a trained one: ``amgan distill``.

    amgan distill --teacher checkpoints/amgan_photo128 --config configs/distill128.yaml \
        --out checkpoints/amgan_photo128s [--set distill.steps=300]

Why: edit latency on the CPU. One pass of the 128-px teacher (width 48, 6 residual blocks, about
6.3 G multiply-adds) is most of an edit's time; a generator with fewer channels and blocks costs a
third of that. GAN training of a small generator from scratch needs a GPU; copying a trained one
does not: the student learns the teacher's function by regression.

The data are the teacher's own training data (``data``: SynthFashion shop and street renders, the
train photos, the hand-checked photos left out), read by the teacher's classifier where a label is
unknown (as :func:`amgan.train.fill_unknown` does for AMGAN training). ``distill.pairs`` pairs
(an image, one manipulable group, a target that moves that group to another value, uniformly) are
edited **once** by the teacher in float (its raw image z and attention a, kept in fp16 in memory);
the student then learns, over ``distill.steps`` batches of those pairs::

    L = |y_s - y_t|_1 + lambda_a |a_s - a_t|_1 + lambda_z |a_t (z_s - z_t)|_1,   y = a z + (1 - a) x

(y: the edit as the editor blends it; the z term teaches the colour where the teacher edits,
where |y_s - y_t| sees it only through a). ``distill.val_pairs`` pairs from the val split are
held out and reported (mean |y_s - y_t| and |a_s - a_t|, and the same numbers for the unedited
input, i.e. how much the teacher changed).

The student folder is the teacher's folder with the student's generator: the classifier, the
editor settings (attention floor, colour spread, calibration, caveats), the colour namer and the
sleeve-shape model are carried over unchanged; ``int8.pt`` is not (it is the teacher's; make the
student's own with ``amgan quantize``). The run folder ``OUT.run/`` holds the resolved config,
``stats.jsonl`` + TensorBoard and ``samples.png`` (val pairs: input | teacher | student | the two attentions).
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm import tqdm

from amgan.config import (ConfigBase, ConfigError, DataConfig, add_config_arguments, check, check_data_section,
                          check_range, load_dataclass_config, save_config)
from amgan.nets.generator import UPSAMPLE, Generator, blend

log = logging.getLogger("amgan.distill")

__all__ = ["DistillConfig", "load_distill_config", "distill", "main"]


@dataclass(frozen=True)
class StudentConfig:
    width: int = 32  # channels of the first conv (doubling at each of the 2 downsamplings)
    n_res: int = 4  # residual blocks at the lowest resolution
    upsample: str = "resize"  # "resize" (bilinear x2 + 3x3 conv) or "deconv"


@dataclass(frozen=True)
class DistillTrain:
    pairs: int = 4000  # training pairs the teacher edits once (cached in memory, fp16)
    val_pairs: int = 256  # held-out pairs from the val split (reported, never trained on)
    steps: int = 1500
    batch_size: int = 16
    lr: float = 1e-3  # Adam, cosine decay to 0 over the steps
    lambda_a: float = 1.0  # weight of |a_s - a_t|
    lambda_z: float = 0.5  # weight of |a_t (z_s - z_t)|
    teacher_batch: int = 32  # images per teacher pass while the pairs are made
    seed: int = 0
    threads: int = 0  # torch threads (0: torch's default)
    max_minutes: float = 0.0  # wall-clock budget of the training steps (0: none); the student is saved when it runs out
    init_from: str = ""  # a student editor folder to continue from (its generator must have the student's shape); "" = new
    log_every: int = 50


@dataclass(frozen=True)
class DistillConfig(ConfigBase):
    data: DataConfig = field(default_factory=DataConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    distill: DistillTrain = field(default_factory=DistillTrain)

    def validate(self) -> "DistillConfig":
        d, s = self.distill, self.student
        check_data_section(self.data)
        check(0 <= self.data.photo_fraction <= 1, "data.photo_fraction", "must be in [0, 1]", self.data.photo_fraction)
        check_range(s, "student", ("width", "n_res"), ge=1)
        check(s.upsample in UPSAMPLE, "student.upsample", f"must be one of {', '.join(UPSAMPLE)}", s.upsample)
        check_range(d, "distill", ("pairs", "steps", "batch_size", "teacher_batch", "log_every"), ge=1)
        check_range(d, "distill", ("val_pairs", "lambda_a", "lambda_z", "max_minutes", "threads"), ge=0)
        check_range(d, "distill", ("lr",), gt=0)
        return self


def load_distill_config(path, overrides=()) -> DistillConfig:
    return load_dataclass_config(DistillConfig, path, overrides)


# ---------------------------------------------------------------- the teacher's edits, once
@dataclass
class Pairs:
    x: torch.Tensor  # uint8 [N, 3, S, S] inputs
    c: torch.Tensor  # float [N, cond_dim] target one-hots (c')
    m: torch.Tensor  # float [N, n_groups] edited group (m)
    z: torch.Tensor  # fp16 [N, 3, S, S] the teacher's raw image
    a: torch.Tensor  # fp16 [N, 1, S, S] the teacher's attention

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, idx) -> tuple[torch.Tensor, ...]:
        return (self.x[idx].float() / 255, self.c[idx], self.m[idx], self.z[idx].float(), self.a[idx].float())


@torch.no_grad()
def make_pairs(teacher, data, rows: torch.Tensor, gen: torch.Generator, batch: int, desc: str,
               progress: bool) -> Pairs:
    """The teacher's edits of ``data``'s ``rows`` (one random group and target each)."""
    from amgan.conditioning import manip_onehot

    schema = teacher.schema
    groups = [schema.group_index(g.name) for g in schema.manipulable]
    xs, cs, ms, zs, as_ = [], [], [], [], []
    for s in tqdm(range(0, len(rows), batch), desc=desc, unit="batch", disable=not progress):
        idx = rows[s:s + batch]
        x, labels = data.batch(idx)
        pick = torch.randint(len(groups), (len(idx),), generator=gen)
        target = labels.clone()
        for j, k in enumerate(pick.tolist()):
            gi = groups[k]
            size = len(schema.groups[gi])
            target[j, gi] = (labels[j, gi] + int(torch.randint(1, size, (1,), generator=gen))) % size
        c = manip_onehot(target, schema)
        m = F.one_hot(pick, len(groups)).float()
        _, z, a = teacher.G(x, c, m)
        xs.append((x * 255).round().to(torch.uint8))
        cs.append(c)
        ms.append(m)
        zs.append(z.half())
        as_.append(a.half())
    return Pairs(torch.cat(xs), torch.cat(cs), torch.cat(ms), torch.cat(zs), torch.cat(as_))


def distill_loss(student: Generator, x, c, m, z_t, a_t, lambda_a: float, lambda_z: float) -> tuple[torch.Tensor, dict]:
    y_s, z_s, a_s = student(x, c, m)
    y_t = blend(x, z_t, a_t)
    parts = {"y": (y_s - y_t).abs().mean(), "a": (a_s - a_t).abs().mean(), "z": (a_t * (z_s - z_t)).abs().mean()}
    return parts["y"] + lambda_a * parts["a"] + lambda_z * parts["z"], parts


@torch.no_grad()
def held_out(student: Generator, pairs: Pairs, batch: int = 64) -> dict:
    """Mean |y_s - y_t| and |a_s - a_t| over the held-out pairs, and |x - y_t| (what the teacher changed)."""
    student.eval()
    sums = {"y": 0.0, "a": 0.0, "teacher_change": 0.0}
    for s in range(0, len(pairs), batch):
        x, c, m, z_t, a_t = pairs.batch(torch.arange(s, min(s + batch, len(pairs))))
        y_s, _, a_s = student(x, c, m)
        y_t = blend(x, z_t, a_t)
        sums["y"] += float((y_s - y_t).abs().mean((1, 2, 3)).sum())
        sums["a"] += float((a_s - a_t).abs().mean((1, 2, 3)).sum())
        sums["teacher_change"] += float((x - y_t).abs().mean((1, 2, 3)).sum())
    return {k: round(v / max(len(pairs), 1), 5) for k, v in sums.items()}


@torch.no_grad()
def sample_sheet(student: Generator, pairs: Pairs, path: Path, n: int = 8) -> Path:
    """Rows of held-out pairs: input | teacher's edit | student's edit | the two attentions (PNG, atomic)."""
    from amgan.io import save_image_grid

    student.eval()
    x, c, m, z_t, a_t = pairs.batch(torch.arange(min(n, len(pairs))))
    y_s, _, a_s = student(x, c, m)
    return save_image_grid(path, [x, blend(x, z_t, a_t), y_s, a_t, a_s])


# ---------------------------------------------------------------- the run
def distill(teacher_path, cfg: DistillConfig, out, progress: bool = True) -> dict:
    """Teach a student generator the teacher editor's edits; write the student editor folder ``out``."""
    from amgan.data.memory import concat_memory, excluded_images, load_memory
    from amgan.pretrained import (NAMER_FILE, SLEEVE_SHAPE_FILE, Pretrained, half_weights, load_editor,
                                  load_pretrained, model_id, save_pretrained)
    from amgan.train import fill_unknown, mixed_batch
    from amgan.training import StatsLog, report, run_steps

    d, s = cfg.distill, cfg.student
    out = Path(out)
    t0 = time.perf_counter()
    if d.threads:
        torch.set_num_threads(d.threads)
    tp = load_pretrained(teacher_path, kind="amgan-editor")
    teacher = load_editor(teacher_path, device="cpu", int8=False)
    if cfg.data.size != teacher.size:
        raise ConfigError(f"data.size {cfg.data.size} is not the teacher's input size {teacher.size} "
                          f"({teacher_path})", key="data.size")
    torch.manual_seed(d.seed)  # the student's initial weights
    g = teacher.G
    student = Generator(g.cond_dim, g.n_groups, width=s.width, n_res=s.n_res, n_down=g.n_down, upsample=s.upsample)
    if d.init_from:
        sp = load_pretrained(d.init_from, kind="amgan-editor")
        want = {"cond_dim": g.cond_dim, "n_groups": g.n_groups, "width": s.width, "n_res": s.n_res,
                "upsample": s.upsample}
        have = {k: sp.model["generator"].get(k) for k in want}
        if have != want:
            raise ConfigError(f"distill.init_from: {d.init_from}'s generator {have} is not the student's {want}",
                              key="distill.init_from")
        student.load_state_dict({k: v.float() for k, v in sp.weights["G"].items()})
    run = out.with_name(out.name + ".run")
    run.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run / "config.yaml")
    gen = torch.Generator().manual_seed(d.seed)

    # the teacher's training data: renders, then photos (train split; the hand-checked photos left out)
    exclude = excluded_images(cfg.data.exclude, key="data.exclude")

    def load(split: str, limit: int):
        parts = [load_memory(cfg.data.root, cfg.data.size, (split,), cfg.data.views, progress=progress)]
        for pr in cfg.data.photo_roots:
            if not (Path(pr) / "manifest.csv").is_file():
                raise ConfigError(f"data.photo_roots: {pr}/manifest.csv not found", key="data.photo_roots")
            parts.append(load_memory(pr, cfg.data.size, (split,), None, progress=progress, exclude=exclude))
        data = concat_memory(parts)
        if data.schema.to_dict()["groups"] != teacher.schema.to_dict()["groups"]:
            raise ConfigError(f"the data's schema is not the teacher's ({teacher_path})", key="data.root")
        fill_unknown(data, teacher.predict_tensor, "cpu", progress=progress)
        rows = mixed_batch(len(data), len(parts[0]), limit, cfg.data.photo_fraction, gen)
        return data, rows

    train_data, train_rows = load("train", d.pairs)
    train = make_pairs(teacher, train_data, train_rows, gen, d.teacher_batch, "teacher edits (train)", progress)
    del train_data
    val = None
    if d.val_pairs:
        val_data, val_rows = load("val", d.val_pairs)
        val = make_pairs(teacher, val_data, val_rows, gen, d.teacher_batch, "teacher edits (val)", progress)
        del val_data
    t_pairs = time.perf_counter() - t0

    opt = torch.optim.Adam(student.parameters(), lr=d.lr, betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=d.steps)
    t_start = time.perf_counter()

    def step_fn(_step: int) -> None:
        student.train()
        idx = torch.randint(len(train), (d.batch_size,), generator=gen)
        loss, parts = distill_loss(student, *train.batch(idx), d.lambda_a, d.lambda_z)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        report("loss/distill/total", loss)
        for k, v in parts.items():
            report(f"loss/distill/{k}", v)

    stats = StatsLog(run / "stats.jsonl", run / "tensorboard")
    try:
        steps_done = run_steps(step_fn, start=0, steps=d.steps, log_every=d.log_every, stats=stats,
                               extras=lambda k: {"lr": sched.get_last_lr()[0]},
                               postfix={"loss": "loss/distill/total"}, desc="distill", progress=progress,
                               stop=(lambda _c: (time.perf_counter() - t_start) / 60 >= d.max_minutes)
                               if d.max_minutes else None)
    finally:
        stats.close()
    student.eval()
    t_train = time.perf_counter() - t_start
    n_teacher = sum(p.numel() for p in g.parameters())
    n_student = sum(p.numel() for p in student.parameters())
    metrics = {"val": held_out(student, val) if val is not None else None,
               "pairs": {"train": len(train), "val": len(val) if val is not None else 0},
               "steps": steps_done, "parameters": {"teacher": n_teacher, "student": n_student},
               "seconds": {"pairs": round(t_pairs, 1), "train": round(t_train, 1)}}
    if val is not None:
        sample_sheet(student, val, run / "samples.png")
    gen_args = {"cond_dim": g.cond_dim, "n_groups": g.n_groups, "width": s.width, "n_res": s.n_res,
                "upsample": s.upsample}
    if g.n_down != 2:
        gen_args["n_down"] = g.n_down
    info = {"distilled_from": {"path": str(teacher_path), "model_id": model_id(teacher_path),
                               "step": tp.info.get("step")},
            "classifier_from": tp.info.get("classifier_from"), "metrics": {"distill": metrics},
            "continued_from": ({"path": str(d.init_from), "model_id": model_id(d.init_from)} if d.init_from else None),
            "step": tp.info.get("step")}
    val_txt = (f"on {metrics['pairs']['val']} held-out val pairs the student's edit differs from the teacher's by "
               f"{metrics['val']['y']:.4f} on average (images in [0, 1]; the teacher changed its input by "
               f"{metrics['val']['teacher_change']:.4f})" if val is not None else "not measured on held-out pairs")
    card = {**tp.card,
            "title": f"{out.name}: AMGAN editor distilled from {Path(teacher_path).name} "
                     f"({n_student / 1e6:.1f} M generator parameters, the teacher's {n_teacher / 1e6:.1f} M)",
            "summary": f"The editor {Path(teacher_path).name} with a smaller generator (width {s.width}, {s.n_res} "
                       "residual blocks) taught by regression on the teacher's edits (`amgan distill`); the "
                       "classifier, colour namer, sleeve-shape model and editor settings are the teacher's.",
            "provenance": f"amgan distill --teacher {teacher_path}, config in {run.name}/config.yaml; {val_txt}. "
                          "The teacher's measured caveats and metrics are kept in this card; they were measured "
                          "on the teacher.",
            }
    weights = {"G": half_weights({"G": student.state_dict()})["G"], "classifier": tp.weights["classifier"]}
    extras = {name: (Path(teacher_path) / name).read_bytes() for name in (NAMER_FILE, SLEEVE_SHAPE_FILE)
              if (Path(teacher_path) / name).is_file()}
    p = Pretrained("amgan-editor", weights, {**tp.model, "generator": gen_args}, tp.image_processor, tp.schema,
                   info, card)
    save_pretrained(out, p, extra_files=extras)
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="amgan distill", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--teacher", required=True, help="the trained editor's model folder")
    add_config_arguments(p, "configs/distill128.yaml")
    p.add_argument("--out", required=True, help="the student editor's model folder (run files go beside it, NAME.run/)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_distill_config(args.config, args.set)
    print(json.dumps(distill(args.teacher, cfg, args.out, progress=not args.no_progress), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
