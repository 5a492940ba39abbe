"""A trained FLAM for inference: :func:`load_flam` -> :class:`FlamModel` (numpy in, numpy out)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from amgan.attributes import Schema
from amgan.errors import UserError
from amgan.nets import check_shape
from fir.flam.nets import FlamNet

__all__ = ["CHECKPOINT_KIND", "FlamMismatchError", "FlamModel", "load_flam"]

CHECKPOINT_KIND = "fir-flam"


class FlamMismatchError(UserError):
    """A FLAM model trained on another embedder's features."""


class FlamModel:
    """A trained FLAM for inference on numpy features (see :func:`load_flam`)."""

    def __init__(self, net: FlamNet, schema: Schema, embedder_id: str, metrics: dict | None = None,
                 strength: float = 1.0):
        self.net = net.eval().requires_grad_(False)
        self.schema, self.embedder_id, self.metrics = schema, embedder_id, metrics or {}
        if not strength > 0:
            raise ValueError(f"FLAM edit strength must be > 0, got {strength}")
        self.strength = float(strength)
        with torch.no_grad():  # the frozen net's unit prototypes, once (a batch-1 query is latency-bound)
            self._protos = net.unit_prototypes()
        self._sizes = np.asarray(net.group_sizes)

    def _feats(self, feats) -> Tensor:
        f = torch.as_tensor(np.asarray(feats, np.float32))
        check_shape(f, ["B", self.net.feat_dim], "FLAM features")
        return f

    def _labels(self, labels, n: int, name: str) -> Tensor:
        y = np.asarray(labels, np.int64)
        if y.shape != (n, len(self.schema.groups)):
            check_shape(torch.as_tensor(y), [n, len(self.schema.groups)], name)
        bad = (y < 0) | (y >= self._sizes)
        if bad.any():
            g = int(np.nonzero(bad.any(0))[0][0])
            size = int(self._sizes[g])
            raise ValueError(f"{name}: group {self.schema.names[g]!r} index out of range 0..{size - 1}")
        return torch.from_numpy(y)

    @torch.inference_mode()
    def predict_probs(self, feats) -> list[np.ndarray]:
        """Softmax over each group's prototypes: one [B, n_g] array per group."""
        return [lg.softmax(1).numpy() for lg in self.net.attr_logits(self._feats(feats), protos=self._protos)]

    @torch.inference_mode()
    def predict_labels(self, feats) -> np.ndarray:
        """Nearest prototype per group -> int64 [B, G]."""
        logits = self.net.attr_logits(self._feats(feats), protos=self._protos)
        return torch.stack([lg.argmax(1) for lg in logits], 1).numpy()

    @torch.inference_mode()
    def manipulate(self, feats, source_labels, target_labels, strength: float | None = None) -> np.ndarray:
        """Features [B, D] moved from ``source_labels`` to ``target_labels`` ([B, G] value indices).

        ``strength`` scales the generator's step (default: the model's calibrated strength).
        ``net.generate`` with the unit prototypes computed once.
        """
        f = self._feats(feats)
        s = self._labels(source_labels, len(f), "source labels")
        t = self._labels(target_labels, len(f), "target labels")
        a = self.strength if strength is None else float(strength)
        if not a > 0:
            raise ValueError(f"FLAM edit strength must be > 0, got {a}")
        return self.net.generate(f, s, t, a, protos=self._protos).numpy()


def load_flam(path: str | Path, expect_embedder_id: str | None = None, map_location="cpu") -> FlamModel:
    """A :class:`FlamModel` from a FLAM model folder (or a ``fir-flam`` checkpoint file); refuses
    another embedder's FLAM."""
    from amgan.checkpoint import CheckpointError
    from amgan.pretrained import load_pretrained

    p = load_pretrained(path, kind=CHECKPOINT_KIND, map_location=map_location)
    try:
        a = p.model
        net = FlamNet(a["feat_dim"], a["group_sizes"], a["attr_dim"], a["hidden"], a["gen_layers"], a["temperature"])
        net.load_state_dict(p.weights["flam"], strict=True)
        schema = Schema.from_dict(p.schema)
        embedder_id = p.info["embedder_id"]
    except (KeyError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path}: not a usable fir-flam model ({type(e).__name__}: {str(e)[:160]})") from None
    if expect_embedder_id is not None and embedder_id != expect_embedder_id:
        raise FlamMismatchError(
            f"{path} was trained on the features of embedder {embedder_id[:12]}..., but the loaded embedder is "
            f"{expect_embedder_id[:12]}...; retrain it with `fir train-flam --set embedder=<that model>`")
    return FlamModel(net, schema, embedder_id, p.info.get("metrics"), strength=float(p.info.get("strength", 1.0)))
