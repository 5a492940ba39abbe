"""The step loop every trainer shares: steps, logging intervals, samples, checkpoints.

The trainer supplies ``step_fn(step)`` (one optimisation step that calls
:func:`amgan.training.stats.report`) and callbacks for samples and checkpoints; the loop
owns the progress bar, the :class:`~amgan.training.stats.Collector` and the schedule:
after step ``s`` (1-based count ``s + 1``) it logs, samples and saves when the count is a
multiple of the interval or the last step, in that order. Under DDP every rank runs the
loop (the collector reduces across ranks); only the main rank writes, and the ranks meet
at a barrier after each save.
"""
from __future__ import annotations

import time
from typing import Callable

import torch
import torch.distributed as dist
from tqdm import tqdm

from amgan.training.stats import Collector, StatsLog

__all__ = ["due", "run_steps"]


def due(count: int, every: int, last: int) -> bool:
    """True when ``count`` steps are done and ``every`` (> 0) divides it, or it is the ``last``."""
    return every > 0 and (count % every == 0 or count == last)


def run_steps(step_fn: Callable[[int], None], *, start: int, steps: int, log_every: int,
              stats: StatsLog | None, main: bool = True, world: int = 1,
              sample_every: int = 0, on_sample: Callable[[int], None] | None = None,
              save_every: int = 0, on_save: Callable[[int], None] | None = None,
              extras: Callable[[int], dict] | None = None, postfix: dict[str, str] | None = None,
              desc: str = "train", progress: bool = True, stop: Callable[[int], bool] | None = None) -> int:
    """Run ``step_fn(step)`` for ``step`` in ``[start, steps)``; returns the step count reached.

    ``stop(count)``: when it says True after a step (a wall-clock budget, say), that step is
    logged, sampled and saved as if it were the last, and the loop ends there.

    At each logging count the main rank writes ``{"sec_per_step", **extras(count), **means}``
    to ``stats``; ``postfix`` maps progress-bar labels to row keys.
    """
    bar = tqdm(total=steps, initial=start, desc=desc, disable=not (main and progress))
    with Collector() as collector:
        last, n = time.perf_counter(), 0
        count = start
        for step in range(start, steps):
            step_fn(step)
            count, n = step + 1, n + 1
            bar.update()
            final = stop is not None and stop(count)
            if final and world > 1:  # every rank stops at the same step
                flag = torch.tensor([1.0 if final else 0.0],
                                    device=f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu")
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                final = bool(flag.item())
            if final or due(count, log_every, steps):
                means = collector.update()  # every rank: the DDP reduction is collective
                if main and stats is not None:
                    row = {"sec_per_step": (time.perf_counter() - last) / n, **(extras(count) if extras else {}),
                           **means}
                    stats.write(count, row)
                    if postfix:
                        bar.set_postfix({label: f"{row[k]:.3f}" for label, k in postfix.items() if k in row})
                last, n = time.perf_counter(), 0
            if on_sample is not None and main and (final or due(count, sample_every, steps)):
                on_sample(count)
            if on_save is not None and (final or due(count, save_every, steps)):
                if main:
                    on_save(count)
                if world > 1:
                    dist.barrier()
            if final:
                break
    bar.close()
    return count
