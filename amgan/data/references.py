"""Which rows go together: street/shop pairs of a product, and AMGAN's reference images.

Unknown values (label ``-1``) are handled by one rule: a group whose value is unknown in
the target or in the candidate counts neither as equal nor as unequal.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from amgan.attributes import Schema
from amgan.data.manifest import UNKNOWN, Manifest

__all__ = ["pairs_by_product", "ReferenceIndex"]


def pairs_by_product(
    manifest: Manifest, split: str | None = None, *, street_view: str = "street", shop_view: str = "shop"
) -> list[tuple[int, int]]:
    """Every (street_index, shop_index) pair of rows showing the same product.

    Indices are manifest rows; sorted by street index, then shop index. Street images
    whose product has no shop image (in ``split``) form no pair.
    """
    rows = manifest.indices(split)
    shops: dict[str, list[int]] = {}
    for i in rows:
        if manifest.views[i] == shop_view:
            shops.setdefault(manifest.product_ids[i], []).append(int(i))
    pairs = []
    for i in rows:
        if manifest.views[i] == street_view:
            pairs.extend((int(i), j) for j in shops.get(manifest.product_ids[i], ()))
    return pairs


class ReferenceIndex:
    """Find a real image whose attribute vector equals a target (AMGAN's reference for L_p).

    Among candidates (all rows, minus ``exclude``), rows are ranked by (1) category: the
    target's category first, then rows whose category or the target's is unknown, then
    other categories; (2) the number of groups equal to the target; (3) the fewest groups
    unequal to it. Ties are broken uniformly at random. So an exact match is returned when
    one exists, else the most similar row of the same category, else (no candidate of that
    category) the most similar row of any category.

    Unknown values (``-1``, in the labels or in a target): a group unknown on either side
    counts neither as equal nor as unequal (two unknowns are not equal either). So for a
    target that knows the sleeve, a candidate of unknown sleeve ranks below one with the
    same sleeve and above one with another sleeve, other groups alike; a target's unknown
    group does not influence the choice at all.

    ``labels``: an int array [N, G] or a :class:`Manifest`. ``categories_group``: the
    category column, by name (needs ``schema`` or a Manifest; the default ``'category'``
    is ignored when the schema has no such group), by column index, or ``None``.
    ``ids``: what :meth:`find` returns for each row (default ``0..N-1``; a Manifest subset
    from :meth:`from_manifest` returns manifest row indices).
    """

    def __init__(
        self,
        labels,
        categories_group: str | int | None = "category",
        *,
        schema: Schema | None = None,
        ids: Sequence[int] | None = None,
        seed: int | None = 0,
    ):
        if isinstance(labels, Manifest):
            schema = schema or labels.schema
            labels = labels.labels
        self.labels = np.ascontiguousarray(np.asarray(labels, dtype=np.int64))
        if self.labels.ndim != 2 or len(self.labels) == 0:
            raise ValueError(f"labels must be a non-empty [N, G] array, got shape {self.labels.shape}")
        if (self.labels < UNKNOWN).any():
            raise ValueError(f"labels must be value indices or -1 (unknown), got {int(self.labels.min())}")
        n, g = self.labels.shape
        if schema is not None and len(schema.groups) != g:
            raise ValueError(f"labels have {g} groups but the schema has {len(schema.groups)}")
        if isinstance(categories_group, str):
            if schema is None:
                raise ValueError(
                    f"categories_group={categories_group!r} is a name: pass schema= (or a Manifest), or a column index"
                )
            if categories_group in schema.names:
                categories_group = schema.group_index(categories_group)
            elif categories_group == "category":
                categories_group = None
            else:
                schema.group(categories_group)  # raises, naming the valid groups
        if categories_group is not None and not 0 <= int(categories_group) < g:
            raise ValueError(f"category column {categories_group} out of range for {g} groups")
        self.cat_col = None if categories_group is None else int(categories_group)
        self.ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if self.ids.shape != (n,):
            raise ValueError(f"ids must have shape ({n},), got {self.ids.shape}")
        self._pos = {int(v): k for k, v in enumerate(self.ids)}
        self.rng = np.random.default_rng(seed)

    @classmethod
    def from_manifest(
        cls, manifest: Manifest, split: str | Iterable[str] | None = None, view=None, **kw
    ) -> "ReferenceIndex":
        rows = manifest.indices(split, view)
        if len(rows) == 0:
            raise ValueError(f"no rows in split={split!r} view={view!r} to search")
        kw.setdefault("schema", manifest.schema)
        return cls(manifest.labels[rows], ids=rows, **kw)

    def __len__(self) -> int:
        return len(self.labels)

    def _excluded_positions(self, exclude) -> list[int]:
        if exclude is None:
            return []
        items = [exclude] if np.isscalar(exclude) else list(exclude)
        return [self._pos[int(e)] for e in items if int(e) in self._pos]

    def find_batch(
        self,
        targets,
        rng: np.random.Generator | None = None,
        exclude=None,
        *,
        return_equal: bool = False,
    ):
        """Best row for each target vector; returns ids [B] (and equal-group counts [B]:
        groups known in both and equal, the category included).

        ``exclude``: ``None``, or one entry per target: an id or a list of ids that must
        not be returned for that target (e.g. the input image itself).
        """
        t = np.asarray(targets, dtype=np.int64)
        n, g = self.labels.shape
        if t.ndim != 2 or t.shape[1] != g:
            raise ValueError(f"targets must have shape [B, {g}], got {t.shape}")
        if (t < UNKNOWN).any():
            raise ValueError(f"targets must hold value indices or -1 (unknown), got {int(t.min())}")
        b = len(t)
        if exclude is not None and len(exclude) != b:
            raise ValueError(f"exclude needs one entry per target ({b}), got {len(exclude)}")
        rng = self.rng if rng is None else rng
        out = np.empty(b, dtype=np.int64)
        equal = np.empty(b, dtype=np.int64)
        chunk = max(1, (1 << 22) // max(n * g, 1))
        for s in range(0, b, chunk):
            tt = t[s : s + chunk]
            lab, tgt = self.labels[None, :, :], tt[:, None, :]
            known = (lab != UNKNOWN) & (tgt != UNKNOWN)  # [b, N, G]
            eq = ((lab == tgt) & known).sum(-1)  # [b, N]
            ne = ((lab != tgt) & known).sum(-1)
            score = (eq * (g + 1) - ne).astype(np.float64)  # more equal first, then fewer unequal
            if self.cat_col is not None:
                lc, tc = self.labels[None, :, self.cat_col], tt[:, None, self.cat_col]
                tier = np.where((lc == UNKNOWN) | (tc == UNKNOWN), 1, np.where(lc == tc, 2, 0))
                score += tier * (g + 1) ** 2  # outweighs any difference in the counts
            if exclude is not None:
                for k in range(len(tt)):
                    score[k, self._excluded_positions(exclude[s + k])] = -np.inf
            score += rng.random(score.shape) * 0.5  # uniform tie-break among equal integer scores
            best = score.argmax(1)
            if not np.isfinite(score[np.arange(len(tt)), best]).all():
                raise ValueError("every candidate is excluded for some target")
            out[s : s + chunk] = self.ids[best]
            equal[s : s + chunk] = eq[np.arange(len(tt)), best]
        return (out, equal) if return_equal else out

    def find(self, target_vec, exclude=None, rng: np.random.Generator | None = None) -> int:
        """Id of the best row for one target vector (see the class docstring)."""
        t = np.asarray(target_vec, dtype=np.int64)
        if t.ndim != 1:
            raise ValueError(f"target_vec must be one label vector, got shape {t.shape}")
        return int(self.find_batch(t[None], rng=rng, exclude=None if exclude is None else [exclude])[0])
