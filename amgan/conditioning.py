"""Generator conditioning (paper: c' the target labels, m the edited-group mask vector).

Shared by training, the Editor and the evaluation; no training code imported.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from amgan.attributes import Schema


def manip_onehot(labels: torch.Tensor, schema: Schema) -> torch.Tensor:
    """c' as the concatenated one-hot of the manipulable groups: [B, sum of their sizes]."""
    parts = [F.one_hot(labels[:, schema.group_index(g.name)], len(g)).float() for g in schema.manipulable]
    return torch.cat(parts, 1)


def group_onehot(group: str, schema: Schema, batch: int, device) -> torch.Tensor:
    """m: which manipulable group is edited (StarGAN's mask vector)."""
    m = torch.zeros(batch, len(schema.manipulable), device=device)
    m[:, schema.manipulable_index(group)] = 1.0
    return m


def random_targets(labels: torch.Tensor, gi: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """Labels with group ``gi`` moved to a different value, uniformly."""
    shift = torch.randint(1, size, (labels.shape[0],), generator=gen).to(labels.device)
    out = labels.clone()
    out[:, gi] = (labels[:, gi] + shift) % size
    return out
