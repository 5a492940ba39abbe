"""The generator's body in int8 on the CPU (post-training static quantization).

On this CPU the 128-px photo generator's float forward is most of an edit's time; its body (the
strided convs, the residual blocks at 32x32x192 and the resize-convs, all but the 7x7 stem and
heads) runs about 3x faster as int8 convs (PyTorch's FX graph-mode quantization, x86 backend:
weights per channel, activations per tensor). The stem (conditioned on the request) and the two
7x7 heads (the RGB and the attention mask) stay in float.

Calibration: the activations' ranges are observed (histogram observers) while the editor edits a
set of photos with varied requests (:func:`calibrate`); only the observers' state is kept
(``int8.pt`` in the model folder: float tensors, loaded with ``weights_only=True``), and the
quantized body is rebuilt from the float weights and that state at load time
(:meth:`Int8Generator.from_state`), so the model folder holds one copy of the weights.

``torch.ao.quantization`` is deprecated upstream (the project pins torch 2.14.1, where it works);
where it is missing or fails, :func:`load_int8` returns None and the editor stays in float.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from amgan.nets import traced_if_same
from amgan.nets.generator import Generator

log = logging.getLogger(__name__)

__all__ = ["Int8Generator", "calibrate", "load_int8", "save_int8", "INT8_FILE", "BACKEND"]

INT8_FILE = "int8.pt"
BACKEND = "x86"
OBSERVER_KEY = "activation_post_process_"
STATE_FORMAT = 1


@contextlib.contextmanager
def _quiet():
    """torch.ao.quantization warns that it is deprecated on every call; the pin keeps it working."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _prepare(G: Generator, example: Tensor) -> nn.Module:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_fx

    torch.backends.quantized.engine = BACKEND
    body = copy.deepcopy(G.body[1:]).float().eval()
    return prepare_fx(body, get_default_qconfig_mapping(BACKEND), (example,))


def _example(G: Generator) -> Tensor:
    """A stem output of the right channel count (the trace only needs shapes)."""
    width = G.body[0].out_channels
    return torch.zeros(1, width, 4 * 2**G.n_down, 4 * 2**G.n_down)


class Int8Generator(nn.Module):
    """G(x, c, m) -> (y, z, a), as :class:`Generator`, with the body in int8 (CPU only).

    ``body``: the body prepared for calibration (observing, float) or converted (int8)."""

    def __init__(self, G: Generator, body: nn.Module, converted: bool):
        super().__init__()
        self.G = G
        self.body = body
        self.converted = converted
        self._traced: tuple[tuple, torch.jit.ScriptModule] | None = None  # (input shapes, the traced pass)

    def trace(self, size: int) -> bool:
        """Trace the whole pass for one image of ``size`` px (``torch.jit``, frozen), used for inputs of
        that shape from then on: the FX graph runs op by op in Python, the traced one in C++ (on this CPU
        27 ms against 29 ms a pass on one thread, 15 against 18 on two, and the interpreter lock is free for
        the editor's mask thread meanwhile). Kept only where it gives the same numbers, bit for bit, on a
        random input; -> whether it is used (False: the FX graph stays, with a warning)."""
        if not self.converted:
            raise RuntimeError("trace a converted (int8) generator")
        g = torch.Generator().manual_seed(0)
        x = torch.rand(1, 3, size, size, generator=g)
        c = torch.rand(1, self.G.cond_dim, generator=g).round()
        m = torch.zeros(1, self.G.n_groups)
        m[0, 0] = 1.0
        traced = traced_if_same(self, (x, c, m), "the int8 generator", freeze=True)
        if traced is None:
            return False
        self._traced = ((tuple(x.shape), tuple(c.shape), tuple(m.shape)), traced)
        return True

    @classmethod
    def observing(cls, G: Generator) -> "Int8Generator":
        """The float generator with observers on its body's activations (for :func:`calibrate`)."""
        with _quiet():
            return cls(G, _prepare(G, _example(G)), converted=False)

    @classmethod
    def from_state(cls, G: Generator, state: dict[str, Tensor]) -> "Int8Generator":
        """The int8 generator from the float one and the observers' calibrated state."""
        from torch.ao.quantization.quantize_fx import convert_fx

        with _quiet():
            prepared = _prepare(G, _example(G))
            expected = {k for k in prepared.state_dict() if OBSERVER_KEY in k}
            if set(state) != expected:
                missing, extra = sorted(expected - set(state))[:3], sorted(set(state) - expected)[:3]
                raise ValueError(f"int8 state does not fit this generator (missing {missing}, unexpected {extra})")
            prepared.load_state_dict(state, strict=False)
            return cls(G, convert_fx(prepared).eval(), converted=True)

    def observer_state(self) -> dict[str, Tensor]:
        """The observers' state after calibration (what ``int8.pt`` keeps)."""
        if self.converted:
            raise RuntimeError("the generator is already converted: calibrate an observing one")
        return {k: v.detach().clone() for k, v in self.body.state_dict().items() if OBSERVER_KEY in k}

    def forward(self, x: Tensor, target_onehot: Tensor, group_onehot: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if x.device.type != "cpu":
            raise RuntimeError("the int8 generator runs on the CPU only")
        if (self._traced is not None and not torch.jit.is_tracing() and x.dtype == torch.float32
                and (tuple(x.shape), tuple(target_onehot.shape), tuple(group_onehot.shape)) == self._traced[0]):
            return self._traced[1](x, target_onehot.float(), group_onehot.float())
        G = self.G
        cond = G.condition(x, target_onehot, group_onehot)
        h = G._stem(x.float(), cond.float())
        with _quiet():
            h = self.body(h)
        return G.heads(x, h.to(x.dtype))


@torch.no_grad()
def calibrate(editor, images, requests_per_image: int = 2, seed: int = 0, progress: bool = True) -> dict[str, Tensor]:
    """Observe the body's activations while ``editor`` (float, CPU) edits ``images`` (PIL images or
    paths) with ``requests_per_image`` random requests each (every manipulable group, every value),
    the reading of each photo as its source. -> the observers' state for :func:`save_int8`."""
    import random

    from tqdm import tqdm

    if editor.device.type != "cpu":
        raise ValueError("int8 calibration runs on the CPU")
    if isinstance(editor.G, Int8Generator):
        raise ValueError("the editor's generator is already int8: calibrate the float one")
    rng = random.Random(seed)
    groups = [g for g in editor.schema.groups if g.manipulable]
    G = editor.G
    observing = Int8Generator.observing(G)
    editor.G = observing
    try:
        for im in tqdm(list(images), desc="int8 calibration", unit="photo", disable=not progress):
            x, _, _ = editor.processor.preprocess(im, editor.device)
            for _ in range(requests_per_image):
                g = rng.choice(groups)
                editor.edit_batch(x, {g.name: rng.choice(list(g.values))})
    finally:
        editor.G = G
    return observing.observer_state()


def save_int8(state: dict[str, Tensor], folder: str | Path, info: dict) -> Path:
    """Write ``int8.pt`` into a model folder (atomically)."""
    from amgan.io import atomic_torch_save

    path = Path(folder) / INT8_FILE
    atomic_torch_save(path, {"format": STATE_FORMAT, "backend": BACKEND, "observers": state, "info": info})
    return path


def load_int8(G: Generator, folder: str | Path) -> Int8Generator | None:
    """The int8 generator of a model folder's ``int8.pt``, or None when the folder has none or this
    PyTorch cannot run it (then the editor stays in float, with a warning)."""
    path = Path(folder) / INT8_FILE
    if not path.is_file():
        return None
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
        if ck.get("format") != STATE_FORMAT or ck.get("backend") not in torch.backends.quantized.supported_engines:
            raise ValueError(f"format {ck.get('format')}, backend {ck.get('backend')}")
        return Int8Generator.from_state(G, ck["observers"])
    except Exception as e:  # noqa: BLE001 - an optional speed-up: report and run in float
        log.warning("%s: not used (%s); the generator runs in float", path, e)
        return None
