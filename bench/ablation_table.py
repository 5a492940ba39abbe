"""The ablation table: ``amgan evaluate-edits`` reports of several variants side by side.

    python bench/ablation_table.py --eval full=runs/eval/eq_full --eval no_dc=runs/eval/eq_no_dc ... \\
        --out reports/ablation_gpu7/README.md --copy

Per variant and view: the ground-truth probes (colour hit of colour edits; shape hit of sleeve,
neckline and pattern edits), the change outside the garment (mean over the groups), the probes'
hits pooled over the four groups and the independent evaluator's edited-attribute accuracy pooled
the same way, each rate with a bootstrap 95% interval; the difference of every variant from the
first one on both pooled rates (with its interval), beside the paper's deltas (Ak et al. ICCV 2019, Table 3,
DeepFashion-Synthesis). ``--copy`` puts each variant's metrics.json beside the table.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from amgan.intervals import bootstrap_ci

PAPER_DELTA = {"no_dc": -5.4, "no_dc_s1": -5.4, "no_lp": -4.2, "no_lp_s1": -4.2, "no_la": -2.5, "no_la_s1": -2.5}  # points of edited-attribute accuracy
NAMES = {"full": "full AMGAN", "no_dc": "without D_C", "no_lp": "without L_p", "no_la": "without L_a",
         "stargan": "StarGAN-style (none of the three)", "full_s1": "full AMGAN, seed 1",
         "no_dc_s1": "without D_C, seed 1", "no_lp_s1": "without L_p, seed 1", "no_la_s1": "without L_a, seed 1",
         "stargan_s1": "StarGAN-style, seed 1"}


def _ones(acc: float, n: int) -> np.ndarray:
    k = int(round(acc * n))
    return np.r_[np.ones(k), np.zeros(n - k)]


def _rate(d) -> str:
    if not d or d.get("acc") is None:
        return "-"
    lo, hi = d["ci95"]
    return f"{d['acc']:.2f} [{lo:.2f}, {hi:.2f}]"


def pooled_judge(groups: dict) -> np.ndarray:
    """The evaluator's 0/1 verdicts of every edit of a view (rebuilt from the per-group counts)."""
    out = []
    for g in groups.values():
        judges = g.get("judges") or {}
        if judges:
            j = next(iter(judges.values()))["edit"]
            out.append(_ones(j["acc"], j["n"]))
    return np.concatenate(out) if out else np.zeros(0)


def pooled_probes(groups: dict) -> np.ndarray:
    """The ground-truth hits of every edit of a view, 0/1 (colour hit of the colour edits, shape hit of
    the sleeve, neckline and pattern edits; rebuilt from the per-group counts)."""
    out = []
    for name, g in groups.items():
        h = g.get("colour_hit") if name == "color" else g.get("shape_hit")
        if h and h.get("acc") is not None:
            out.append(_ones(h["acc"], h["n"]))
    return np.concatenate(out) if out else np.zeros(0)


def _diff(a: np.ndarray, b: np.ndarray) -> str:
    """a - b in points with a bootstrap 95% interval (independent resamples of the two sets)."""
    rng = np.random.default_rng(0)
    d = [a[rng.integers(0, len(a), len(a))].mean() - b[rng.integers(0, len(b), len(b))].mean() for _ in range(1000)]
    return f"{100 * (a.mean() - b.mean()):+.1f} [{100 * np.quantile(d, 0.025):+.1f}, {100 * np.quantile(d, 0.975):+.1f}] points"


def table(evals: dict[str, dict]) -> str:
    first = next(iter(evals))
    lines = []
    for view in ("shop", "street"):
        lines += [f"### {view} views", "",
                  "| variant | step | colour hit | sleeve hit | neckline hit | pattern hit | change outside | "
                  "ground-truth hits (all groups) | difference from full | "
                  "evaluator: edited attribute (all groups) | difference from full | paper's difference |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        base = pooled_judge(evals[first]["synth"]["views"][view])
        base_p = pooled_probes(evals[first]["synth"]["views"][view])
        for name, m in evals.items():
            g = m["synth"]["views"][view]
            pj, pp = pooled_judge(g), pooled_probes(g)
            lo, hi = bootstrap_ci(pj)
            plo, phi = bootstrap_ci(pp)
            diff = "-" if name == first else _diff(pj, base)
            diff_p = "-" if name == first else _diff(pp, base_p)
            paper = f"{PAPER_DELTA[name]:+.1f} points" if name in PAPER_DELTA else "-"
            outside = np.mean([x["outside_change"]["mean"] for x in g.values()])
            lines.append(f"| {NAMES.get(name, name)} | {m.get('editor_step')} | {_rate(g['color'].get('colour_hit'))} | "
                         f"{_rate(g['sleeve']['shape_hit'])} | {_rate(g['neckline']['shape_hit'])} | "
                         f"{_rate(g['pattern']['shape_hit'])} | {outside:.3f} | {pp.mean():.2f} [{plo:.2f}, {phi:.2f}] "
                         f"(n={len(pp)}) | {diff_p} | {pj.mean():.2f} [{lo:.2f}, {hi:.2f}] "
                         f"(n={len(pj)}) | {diff} | {paper} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eval", action="append", required=True, help="NAME=FOLDER of an `amgan evaluate-edits` report")
    ap.add_argument("--out", required=True, help="the markdown file to write")
    ap.add_argument("--intro", default="", help="a file whose text goes above the table")
    ap.add_argument("--copy", action="store_true", help="copy each metrics.json beside --out as NAME.metrics.json")
    args = ap.parse_args(argv)
    evals = {}
    for spec in args.eval:
        name, _, folder = spec.partition("=")
        evals[name] = json.loads((Path(folder) / "metrics.json").read_text())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    intro = Path(args.intro).read_text() if args.intro else ""
    out.write_text(intro + table(evals) + "\n")
    if args.copy:
        for spec in args.eval:
            name, _, folder = spec.partition("=")
            shutil.copyfile(Path(folder) / "metrics.json", out.parent / f"{name}.metrics.json")
    print(out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
