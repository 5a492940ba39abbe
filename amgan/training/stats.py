"""Training statistics, after stylegan2-ada's ``torch_utils/training_stats.py``.

Any code calls :func:`report` with a name and a tensor (or a number) every step; nothing
is converted to a Python float there, so a step never waits for the device. A
:class:`Collector` that is open (``with Collector() as c:``) accumulates the reports as
device tensors (sum and count per name), and ``c.update()`` reduces them once per logging
interval: one transfer to the host (and, under DDP, one ``all_reduce`` so the means are
over every rank), the mean of every element reported since the last update per name.

:class:`StatsLog` writes each interval's row as one JSON line (``stats.jsonl``) and as
TensorBoard scalars (``torch.utils.tensorboard.SummaryWriter``), and keeps both consistent
with a checkpoint's step when a run resumes.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import torch

from amgan.errors import UserError

__all__ = ["report", "Collector", "StatsLog", "truncate_stats", "StatsFileError"]

log = logging.getLogger(__name__)
_active: list["Collector"] = []


class StatsFileError(UserError):
    """A stats.jsonl file holds a line that is not JSON before its last line."""


def report(name: str, value) -> None:
    """Record ``value`` (a tensor of any shape, or a number) under ``name`` for every open
    :class:`Collector`; each element counts once. A no-op when no collector is open."""
    if not _active:
        return
    t = value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(value)
    t = t.to(torch.float64)
    s, n = t.sum(), t.numel()
    for c in _active:
        c._add(name, s, n)


class Collector:
    """Accumulates :func:`report` values between :meth:`update` calls.

    Use as a context manager (it listens while open). Under DDP every rank must open one
    and call :meth:`update` at the same steps, reporting the same names.
    """

    def __init__(self, ddp: bool = True):
        self.ddp = ddp
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    def __enter__(self) -> "Collector":
        _active.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _active.remove(self)

    def _add(self, name: str, s: torch.Tensor, n: int) -> None:
        if name in self._sums:
            self._sums[name] = self._sums[name] + s
            self._counts[name] += n
        else:
            self._sums[name], self._counts[name] = s, n

    def names(self) -> list[str]:
        return list(self._sums)

    def update(self) -> dict[str, float]:
        """Means since the last update, ``{name: float}`` in first-report order; then reset."""
        names, sums, counts = list(self._sums), self._sums, self._counts
        self._sums, self._counts = {}, {}
        if not names:
            return {}
        if self.ddp and torch.distributed.is_available() and torch.distributed.is_initialized() \
                and torch.distributed.get_world_size() > 1:
            dist = torch.distributed
            dev = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
            order = sorted(names)
            packed = torch.stack([sums[k].to(dev) for k in order]
                                 + [torch.tensor(float(counts[k]), dtype=torch.float64, device=dev) for k in order])
            dist.all_reduce(packed)
            host = packed.cpu().tolist()
            total = dict(zip(order, host[: len(order)]))
            n = dict(zip(order, host[len(order):]))
            return {k: total[k] / n[k] for k in names}
        by_device: dict[torch.device, list[str]] = {}
        for k in names:
            by_device.setdefault(sums[k].device, []).append(k)
        total = {}
        for keys in by_device.values():  # one host transfer per device
            total.update(zip(keys, torch.stack([sums[k] for k in keys]).cpu().tolist()))
        return {k: total[k] / counts[k] for k in names}


def _read_rows(path: Path) -> list[tuple[str, dict]]:
    """(line, row) pairs of a stats file; a torn last line is dropped with a warning."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    rows = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or "step" not in row:
                raise ValueError("not a stats row")
        except ValueError:
            if i == len(lines) - 1:
                log.warning("%s: dropped a torn last line (a run stopped while writing it): %.60r", path, line)
                continue
            raise StatsFileError(f"{path}:{i + 1}: not a JSON stats row ({line[:60]!r}); fix or delete the line")
        rows.append((line, row))
    return rows


def truncate_stats(path: str | Path, step: int) -> None:
    """Keep the rows of ``path`` up to ``step`` (drops rows a run wrote after its last checkpoint,
    and a torn last line, with a warning naming the file)."""
    from amgan.io import atomic_write_text

    path = Path(path)
    if not path.exists():
        return
    keep = [line for line, row in _read_rows(path) if row["step"] <= step]
    atomic_write_text(path, "".join(line + "\n" for line in keep))


def _round(v):
    return float(f"{v:.6g}") if isinstance(v, float) and math.isfinite(v) else v


class StatsLog:
    """One JSON line per logging interval in ``jsonl`` and the same scalars in ``tb_dir``.

    ``start_step``: the step the run starts from. Rows after it (and a torn last line) are
    dropped; a fresh run (0) starts both logs empty; a resumed one tells TensorBoard to
    discard its events after ``start_step`` (``purge_step``).
    """

    def __init__(self, jsonl: str | Path, tb_dir: str | Path | None, start_step: int = 0):
        self.jsonl = Path(jsonl)
        self.jsonl.parent.mkdir(parents=True, exist_ok=True)
        if start_step > 0:
            truncate_stats(self.jsonl, start_step)
        else:
            self.jsonl.write_text("")
        self.writer = None
        if tb_dir is not None:
            tb_dir = Path(tb_dir)
            if start_step == 0 and tb_dir.is_dir():
                for old in tb_dir.glob("events.out.tfevents.*"):
                    old.unlink()
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:  # an environment without tensorboard: the JSON log still works
                log.warning("no TensorBoard event files (%s); stats.jsonl only", e)
            else:
                self.writer = SummaryWriter(str(tb_dir), purge_step=start_step + 1 if start_step > 0 else None)

    def write(self, step: int, values: dict) -> dict:
        """Append ``{"step": step, **values}`` (floats to 6 significant digits) and add every
        number as a TensorBoard scalar at ``step``; returns the row written."""
        row = {"step": int(step), **{k: _round(v) for k, v in values.items()}}
        with open(self.jsonl, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if self.writer is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.writer.add_scalar(k, v, int(step))
            self.writer.flush()
        return row

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
