"""Quality against training time: the ground-truth probes of every editor a run kept.

    python bench/time_to_quality.py --run old=runs/ttq/old --run new=runs/ttq/new \\
        --data data/synth64 --limit 40 --out bench/out/ttq.json --plot docs/time_to_quality.png
    python bench/time_to_quality.py --run "photo recipe"=runs/ttq/new2 \\
        --reference "old recipe, shipped"=checkpoints/amgan_synth64 --x steps --plot docs/time_to_quality_long.png

Each run folder must have been trained with ``train.keep_editors=true`` (``editors/editor_stepNNNNNN.pt``,
each holding its step and the seconds of training so far). Every editor is scored by the
SynthFashion probes of ``amgan evaluate-edits`` (colour hit of colour edits, shape hit of sleeve
edits, change outside the garment; shop and street views; the first ``--limit`` edits of each
view and group) and the curves are drawn against training minutes.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def score(editor_path: Path, data: str, limit: int) -> dict:
    from amgan.editor import Editor
    from amgan.evaluate_edits import evaluate_synth

    ed = Editor.from_checkpoint(editor_path, device="cpu")
    res, _ = evaluate_synth(ed, data, [], limit=limit, progress=False)
    info = ed.pretrained.info
    out = {"editor": str(editor_path), "step": int(info.get("step") or 0), "seconds": float(info.get("seconds") or 0)}
    for view, groups in res["views"].items():
        out[f"{view}/colour_hit"] = groups["color"]["colour_hit"]["acc"]
        out[f"{view}/sleeve_hit"] = groups["sleeve"]["shape_hit"]["acc"]
        out[f"{view}/outside_change"] = sum(g["outside_change"]["mean"] for g in groups.values()) / len(groups)
    return out


def plot(curves: dict, path: str, x: str = "minutes", sec_per_step: dict | None = None) -> None:
    """One panel per probe; ``x``: training ``minutes`` as logged, or generator ``steps`` (fair when the
    runs shared the machine with other work: a step's numbers do not depend on the load), with each
    run's uncontended seconds per step (``sec_per_step``) in its legend entry."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("shop/colour_hit", "shop colour hit"), ("street/colour_hit", "street colour hit"),
            ("shop/sleeve_hit", "shop sleeve hit"), ("street/sleeve_hit", "street sleeve hit")]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.4), sharex=True)
    for ax, (k, title) in zip(axes, keys):
        for (name, pts), style in zip(curves.items(), ("-o", "--s", ":^", "-.D")):
            pts = [p for p in pts if k in p]
            xs = [p["seconds"] / 60 for p in pts] if x == "minutes" else [p["step"] for p in pts]
            label = name + (f" ({sec_per_step[name]} s/step)" if sec_per_step and name in sec_per_step else "")
            ax.plot(xs, [p[k] for p in pts], style, label=label)
        ax.set_title(title)
        ax.set_xlabel("training minutes (CPU)" if x == "minutes" else "generator steps (batch 16)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("rate (ground-truth probe)")
    axes[0].legend(loc="lower right")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="append", required=True, help="NAME=RUN_FOLDER (trained with keep_editors)")
    ap.add_argument("--data", default="data/synth64")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--every", type=int, default=1, help="score every k-th kept editor (and the last)")
    ap.add_argument("--out", default="bench/out/ttq.json")
    ap.add_argument("--plot", default=None)
    ap.add_argument("--x", default="minutes", choices=["minutes", "steps"], help="the plot's x axis")
    ap.add_argument("--sec-per-step", action="append", default=[],
                    help="NAME=SECONDS: a run's uncontended seconds per step, shown in the legend")
    ap.add_argument("--reference", action="append", default=[],
                    help="NAME=EDITOR: one more editor (a model folder) scored the same way and drawn as a single "
                         "point at its training step, e.g. a shipped model of another recipe")
    ap.add_argument("--cached", default=None,
                    help="an earlier --out JSON: editors it already scored (same data and limit) are not scored again")
    args = ap.parse_args(argv)
    curves = {}
    done = {}
    if args.cached and Path(args.cached).is_file():
        old = json.loads(Path(args.cached).read_text())
        if old.get("data") == args.data and old.get("limit") == args.limit:
            done = {p["editor"]: p for pts in old["curves"].values() for p in pts}
    t0 = time.time()
    for spec in args.run:
        name, _, folder = spec.partition("=")
        eds = sorted((Path(folder) / "editors").glob("editor_step*.pt"))
        eds = [e for i, e in enumerate(eds) if i % args.every == 0 or i == len(eds) - 1]
        curves[name] = [done.get(str(e)) or score(e, args.data, args.limit) for e in eds]
        print(json.dumps({name: curves[name][-1] if curves[name] else None}), flush=True)
    for spec in args.reference:
        name, _, editor = spec.partition("=")
        curves[name] = [done.get(str(editor)) or score(Path(editor), args.data, args.limit)]
        print(json.dumps({name: curves[name][-1]}), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"curves": curves, "data": args.data, "limit": args.limit,
                                          "seconds": round(time.time() - t0, 1)}, indent=1) + "\n")
    if args.plot:
        sps = dict(kv.split("=", 1) for kv in args.sec_per_step)
        plot(curves, args.plot, x=args.x, sec_per_step=sps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
