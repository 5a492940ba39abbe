"""The ablation table (bench/ablation_table.py): pooled ground-truth hits and their differences."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location("ablation_table", Path(__file__).parents[1] / "bench/ablation_table.py")
T = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(T)


def _metrics(colour: float, shape: float, judge: float, n: int = 100, step: int = 750) -> dict:
    def group(name):
        hit = {"acc": colour if name == "color" else shape, "n": n}
        g = {"outside_change": {"mean": 0.02}, "judges": {"ev": {"edit": {"acc": judge, "n": n}}}}
        g["colour_hit" if name == "color" else "shape_hit"] = {**hit, "ci95": [0.0, 1.0]}
        if name != "color":
            g["colour_hit"] = None
        return g

    views = {v: {k: group(k) for k in ("color", "sleeve", "neckline", "pattern")} for v in ("shop", "street")}
    return {"editor_step": step, "synth": {"views": views}}


def test_pooled_probes_take_the_colour_hit_of_colour_edits_and_the_shape_hit_of_the_rest():
    groups = _metrics(1.0, 0.5, 0.3)["synth"]["views"]["shop"]
    pooled = T.pooled_probes(groups)
    assert len(pooled) == 400 and pooled.mean() == (100 + 3 * 50) / 400


def test_the_table_gives_each_variants_difference_from_the_first_with_an_interval():
    md = T.table({"full": _metrics(1.0, 0.8, 0.6), "no_la": _metrics(0.5, 0.0, 0.2)})
    rows = [line for line in md.splitlines() if line.startswith("| without L_a")]
    assert len(rows) == 2  # shop and street
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[7].startswith("0.12 [")  # (50 + 0) / 400 pooled hits
    assert cells[8].startswith("-72.5 [") and cells[8].endswith("points")  # 0.125 - 0.85
    assert cells[11] == "-2.5 points"  # the paper's delta
    d = T._diff(np.ones(50), np.ones(50))
    assert d.startswith("+0.0 [+0.0, +0.0]")


def _intro(folder):
    path = folder / "intro.md"
    path.write_text("# Longer runs\n\nWhat it says.\n\n")
    return path


def _load_steps():
    import sys

    sys.modules.setdefault("ablation_table", T)  # ablation_steps imports its sibling by name
    spec = importlib.util.spec_from_file_location("ablation_steps", Path(__file__).parents[1] / "bench/ablation_steps.py")
    S = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(S)
    return S


def test_the_steps_table_follows_the_gap_step_by_step_and_draws_it(tmp_path):
    import json

    S = _load_steps()
    for name, colour in (("full", (0.5, 1.0)), ("no_la", (0.25, 0.75))):
        for step, c in zip((750, 1500), colour):
            d = tmp_path / f"{name}_{step}"
            d.mkdir()
            (d / "metrics.json").write_text(json.dumps(_metrics(c, 0.0, 0.0, step=step)))
    S.main(["--base", f"full={tmp_path}/full_{{step}}", "--variant", f"no_la={tmp_path}/no_la_{{step}}",
            "--steps", "750", "1500", "--out", str(tmp_path / "t.md"), "--plot", str(tmp_path / "t.png"),
            "--intro", str(_intro(tmp_path))])
    assert (tmp_path / "t.md").read_text().startswith("# Longer runs\n\nWhat it says.\n\n| step |")
    rows = [r for r in (tmp_path / "t.md").read_text().splitlines() if r.startswith("| 750 | shop")
            or r.startswith("| 1500 | street")]
    assert len(rows) == 2
    assert "0.12 [" in rows[0] and "0.06 [" in rows[0] and "-6.2 [" in rows[0]  # 50/400 and 25/400 pooled
    assert "0.25 [" in rows[1] and "0.19 [" in rows[1] and "-6.2 [" in rows[1]
    assert (tmp_path / "t.png").stat().st_size > 10_000
    with pytest.raises(SystemExit, match="missing report"):
        S.main(["--base", f"full={tmp_path}/full_{{step}}", "--variant", f"no_la={tmp_path}/no_la_{{step}}",
                "--steps", "1000", "--out", str(tmp_path / "u.md")])
