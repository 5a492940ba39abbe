"""Run folders: start or resume one, before any data loads.

A run folder (``train.out``) holds ``config.yaml`` (the resolved config, written before step
one), ``stats.jsonl`` and ``tensorboard/`` (:class:`amgan.training.stats.StatsLog`), a
resumable ``checkpoint.pt`` and the trainer's products. :func:`check_run` decides, from the
folder alone, whether the run may start: a folder that already holds a run needs
``--resume``; ``--resume`` needs a checkpoint whose config equals this one, key for key
(``--allow-config-change`` accepts the differences, which are then logged). ``--resume-from
STATE`` starts a *new* run folder from a training state stored anywhere (a run folder's
``checkpoint.pt`` copied elsewhere, e.g. committed beside a model as ``train_state.pt``), with
the same config check: the run continues exactly where that state stopped, on any machine.
:func:`init_run_folder` creates the folder, removes ``.<name>.*.tmp`` files that a killed
atomic save left behind, and writes ``config.yaml``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from amgan.errors import UserError
from amgan.io import remove_orphans

__all__ = ["RunError", "RUNTIME_KEYS", "check_run", "config_diff", "init_run_folder", "remove_orphan_tmp",
           "remove_orphans", "rng_state", "set_rng_state", "add_run_arguments"]

log = logging.getLogger(__name__)

# keys that cannot change what a run computes: a resume may differ in them silently
RUNTIME_KEYS = frozenset({"train.out", "train.threads", "data.workers", "train.max_minutes"})


class RunError(UserError):
    """A run folder cannot be started or resumed as asked."""


def add_run_arguments(p, resume_from: bool = False) -> None:
    """``--resume`` and ``--allow-config-change`` on an argparse parser; ``--resume-from`` too for a
    trainer that passes it on to :func:`check_run`."""
    p.add_argument("--resume", action="store_true", help="continue from <train.out>/checkpoint.pt")
    if resume_from:
        p.add_argument("--resume-from", default=None, metavar="STATE",
                       help="continue exactly from a training state stored anywhere (a run's checkpoint.pt, "
                            "e.g. a model folder's train_state.pt) into a new train.out")
    p.add_argument("--allow-config-change", action="store_true",
                   help="with --resume/--resume-from: accept a config that differs from the checkpoint's")


def config_diff(old: dict, new: dict, ignore=RUNTIME_KEYS) -> list[str]:
    """``["train.seed: 0 -> 1", ...]`` for every dotted key whose value differs (or exists on one side only)."""
    from amgan.config import flatten, to_plain

    a, b = flatten(to_plain(old or {})), flatten(to_plain(new or {}))
    out = []
    for k in sorted(set(a) | set(b)):
        if k in ignore:
            continue
        va, vb = a.get(k, "<absent>"), b.get(k, "<absent>")
        if va != vb:
            out.append(f"{k}: {va!r} -> {vb!r}")
    return out


def check_run(out: str | Path, config: dict, *, resume: bool, allow_config_change: bool = False,
              checkpoint: str = "checkpoint.pt", outputs=(), kind: str | None = None,
              map_location="cpu", resume_from: str | Path | None = None) -> dict | None:
    """Check the run folder ``out`` before anything is loaded or written.

    Without ``resume``: refuses a folder that holds ``checkpoint`` or any of ``outputs``.
    With ``resume``: loads ``checkpoint`` (of ``kind``) and compares its ``config`` with
    ``config`` (a plain dict); refuses differences unless ``allow_config_change``.
    With ``resume_from`` (a training state file anywhere): ``out`` must hold no run yet; the
    state is loaded and its config compared as for ``resume``.
    Returns the checkpoint dict to resume from, or None for a fresh run.
    """
    from amgan.checkpoint import load_checkpoint

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunError(f"train.out {out} is a file, not a run folder")
    ck_path = out / checkpoint
    if resume_from is not None:
        if resume:
            raise RunError("--resume and --resume-from exclude each other: --resume continues train.out's own "
                           "checkpoint, --resume-from starts a new train.out from a stored state")
        for p in (ck_path, *(out / o for o in outputs)):
            if p.exists():
                raise RunError(f"--resume-from: {p} exists: train.out already holds a run (use --resume, or "
                               "choose another train.out)")
        ck_path = Path(resume_from)
        if not ck_path.is_file():
            raise RunError(f"--resume-from: no training state at {ck_path}")
    elif not resume:
        for p in (ck_path, *(out / o for o in outputs)):
            if p.exists():
                raise RunError(f"{p} exists: pass --resume to continue that run, or choose another train.out")
        return None
    flag = "--resume" if resume_from is None else "--resume-from"
    if not ck_path.is_file():
        raise RunError(f"--resume: no checkpoint at {ck_path}")
    ck = load_checkpoint(ck_path, kind=kind, map_location=map_location)
    diff = config_diff(ck.get("config") or {}, config)
    if diff and not allow_config_change:
        raise RunError(f"{flag}: {ck_path} was trained with another config ({'; '.join(diff)}); "
                       "pass --allow-config-change to resume with these changes, or choose another train.out")
    if diff:
        log.warning("resuming %s with a changed config: %s", ck_path, "; ".join(diff))
    return ck


def remove_orphan_tmp(folder: str | Path, names=None) -> list[Path]:
    """:func:`amgan.io.remove_orphans` for a run folder: one run owns it, so temp files of
    any age are orphans (``min_age=0``)."""
    return remove_orphans(folder, names, min_age=0)


def init_run_folder(out: str | Path, cfg) -> Path:
    """Create ``out``, remove orphaned temp files, write the resolved ``config.yaml`` (main rank only)."""
    from amgan.config import save_config

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    remove_orphan_tmp(out)
    save_config(cfg, out / "config.yaml")
    return out


def resumed_at(ck: dict, out: str | Path) -> tuple[int, float]:
    """(step, seconds of training so far) of a resumed run's checkpoint, logged once."""
    start, seconds = int(ck["step"]), float(ck["seconds"])
    log.info("resumed from %s at step %d", Path(out) / "checkpoint.pt", start)
    return start, seconds


def rng_state() -> dict:
    """The global torch RNG states (CPU and every CUDA device), for an exact resume."""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
