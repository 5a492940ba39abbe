"""An ablation's gap against training steps: two variants' ``amgan evaluate-edits`` reports at several steps.

    python bench/ablation_steps.py --base full=runs/eval_cpu_long/full_{step} \\
        --variant no_la=runs/eval_cpu_long/no_la_{step} --steps 750 1000 1250 1500 \\
        --out reports/ablation_cpu64/longer.md --plot reports/ablation_cpu64/longer.png

Per view and step: each variant's ground-truth hits pooled over the four groups (as
``bench/ablation_table.py``, with a bootstrap 95% interval) and the variant's difference from the base
in points (with its interval). The plot draws the pooled hits of both against the step, a panel per view.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ablation_table import NAMES, _diff, pooled_probes
from amgan.intervals import bootstrap_ci

VIEWS = ("shop", "street")


def load(pattern: str, steps) -> dict[int, dict]:
    """{step: metrics} of the reports ``pattern`` (a folder name with ``{step}``) names."""
    out = {}
    for s in steps:
        path = Path(pattern.format(step=s)) / "metrics.json"
        if not path.is_file():
            raise SystemExit(f"missing report: {path}")
        out[s] = json.loads(path.read_text())
    return out


def table(base: tuple[str, dict], variant: tuple[str, dict]) -> tuple[str, dict]:
    """The markdown table and the curves {view: {name: [(step, rate, lo, hi)]}}."""
    (bn, b), (vn, v) = base, variant
    lines = ["| step | view | " + f"{NAMES.get(bn, bn)}: pooled hits | {NAMES.get(vn, vn)}: pooled hits | "
             "difference |", "| --- | --- | --- | --- | --- |"]
    curves = {view: {bn: [], vn: []} for view in VIEWS}
    for step in b:
        for view in VIEWS:
            pb, pv = (pooled_probes(m[step]["synth"]["views"][view]) for m in (b, v))
            cells = []
            for name, p in ((bn, pb), (vn, pv)):
                lo, hi = bootstrap_ci(p)
                curves[view][name].append((step, float(p.mean()), lo, hi))
                cells.append(f"{p.mean():.2f} [{lo:.2f}, {hi:.2f}] (n={len(p)})")
            lines.append(f"| {step} | {view} | {cells[0]} | {cells[1]} | {_diff(pv, pb)} |")
    return "\n".join(lines) + "\n", curves


def plot(curves: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(VIEWS), figsize=(10, 4), sharey=True)
    for ax, view in zip(axes, VIEWS):
        for (name, pts), style in zip(curves[view].items(), ("o-", "s--")):
            s, r, lo, hi = (np.array(c) for c in zip(*pts))
            ax.plot(s, r, style, label=NAMES.get(name, name))
            ax.fill_between(s, lo, hi, alpha=0.2)
        ax.set_title(f"{view} views")
        ax.set_xlabel("generator steps")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("ground-truth hits, pooled over the four groups")
    axes[0].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="NAME=FOLDER_PATTERN with {step}")
    ap.add_argument("--variant", required=True, help="NAME=FOLDER_PATTERN with {step}")
    ap.add_argument("--steps", type=int, nargs="+", required=True)
    ap.add_argument("--out", required=True, help="the markdown table to write")
    ap.add_argument("--plot", default=None, help="the PNG to draw")
    ap.add_argument("--intro", default="", help="a file whose text goes above the table")
    args = ap.parse_args(argv)
    (bn, bp), (vn, vp) = (a.split("=", 1) for a in (args.base, args.variant))
    text, curves = table((bn, load(bp, args.steps)), (vn, load(vp, args.steps)))
    intro = Path(args.intro).read_text() if args.intro else ""
    Path(args.out).write_text(intro + text)
    if args.plot:
        plot(curves, args.plot)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
