"""What a report's numbers were measured with: code, date, libraries, hardware and models.

    header = run_header({"editor": "checkpoints/amgan_synth64", ...})

-> ``{"commit", "uncommitted_changes", "date_utc", "versions": {...}, "hardware": {...},
"models": {role: {"path", "sha256"}}}``. The commit is ``git rev-parse HEAD`` of the checkout the
code runs from ("unknown" outside a git checkout); ``uncommitted_changes`` lists the files of
``amgan/``, ``fir/`` and ``configs/`` that differ from it (None when git cannot say). A model's
sha256 is that of its weights file (``weights.pt`` of a model folder, or a single-file checkpoint):
:func:`amgan.pretrained.model_id`, the id an index and FLAM record of their embedder.
"""
from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

__all__ = ["run_header", "git_commit", "library_versions", "hardware"]

_ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = {"torch": "torch", "torchvision": "torchvision", "faiss": "faiss-cpu", "kornia": "kornia",
             "numpy": "numpy"}


def git_commit(cwd: str | Path = _ROOT) -> tuple[str, list[str] | None]:
    """(full commit hash or "unknown", files under amgan/, fir/ and configs/ changed since it)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, cwd=cwd)
        commit = out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"
        if commit == "unknown":
            return commit, None
        st = subprocess.run(["git", "status", "--porcelain", "--", "amgan", "fir", "configs"], capture_output=True,
                            text=True, timeout=10, cwd=cwd)
        changed = sorted(line[3:] for line in st.stdout.splitlines() if line.strip()) if st.returncode == 0 else None
        return commit, changed
    except (OSError, subprocess.SubprocessError):
        return "unknown", None


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name, dist in LIBRARIES.items():
        try:
            out[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            mod = sys.modules.get(name)
            out[name] = getattr(mod, "__version__", None) or "not installed"
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def hardware() -> dict:
    """CPU model, usable cores, torch threads and the GPU (when CUDA is available)."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": _cpu_model(), "cores": cores, "torch_threads": torch.get_num_threads(), "gpu": gpu,
            "platform": platform.platform()}


def run_header(models: dict[str, str | Path], code: tuple[str, list[str] | None] | None = None) -> dict:
    """The header of a report (module doc); ``models``: role -> model path ("" or missing: left out);
    ``code``: :func:`git_commit` as taken when the run started (a long run's tree may move on before
    it writes its header; default: now)."""
    from amgan.pretrained import model_id

    commit, changed = code if code is not None else git_commit()
    return {"commit": commit, "uncommitted_changes": changed,
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "versions": library_versions(), "hardware": hardware(),
            "models": {role: {"path": str(p), "sha256": model_id(p)} for role, p in models.items()
                       if p and Path(p).exists()}}
