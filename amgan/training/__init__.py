"""What every trainer here shares (AMGAN, its classifier, FIR, FLAM).

- :mod:`amgan.training.stats`: ``report(name, tensor)`` from anywhere, a ``Collector`` that
  reduces once per logging interval, ``StatsLog`` (``stats.jsonl`` + TensorBoard events).
- :mod:`amgan.training.run`: run folders (refuse to overwrite, resume with the same config,
  orphaned temp files, ``config.yaml`` before step one), RNG state for exact resume.
- :mod:`amgan.training.loop`: ``run_steps``, the step loop with logging, samples, checkpoints.
"""
from amgan.training.loop import due, run_steps
from amgan.training.run import (RUNTIME_KEYS, RunError, add_run_arguments, check_run, config_diff, init_run_folder,
                                remove_orphan_tmp, resumed_at, rng_state, set_rng_state)
from amgan.training.stats import Collector, StatsFileError, StatsLog, report, truncate_stats

__all__ = ["due", "run_steps", "RUNTIME_KEYS", "RunError", "add_run_arguments", "check_run", "config_diff",
           "init_run_folder", "remove_orphan_tmp", "resumed_at", "rng_state", "set_rng_state", "Collector", "StatsFileError",
           "StatsLog", "report", "truncate_stats"]
