"""Gallery index: faiss over L2-normalised embeddings, with ids, metadata and model identity.

Vectors are copied to float32 C-contiguous and L2-normalised with ``faiss.normalize_L2``,
so the inner product is the cosine similarity. Rows are stored in ascending id order, so
faiss's internal position order is id order. Results are ordered by score descending,
then id ascending (the tie rule used everywhere in ``fir``); missing results (an
approximate index that found fewer than k) have id -1 and score -inf and come last.

Kinds (``GalleryIndex.build(..., kind=...)``):

- ``flat``: ``IndexFlatIP``, exact.
- ``ivf``: ``IndexIVFFlat`` (spherical k-means coarse quantizer); params ``nlist``
  (default ~4*sqrt(N), at most N/39), ``nprobe``, ``train_size``, ``niter``.
- ``hnsw``: ``IndexHNSWFlat`` with ``METRIC_INNER_PRODUCT``; params ``M``,
  ``ef_construction``, ``ef_search``.
- ``ivfpq``: ``OPQ{m},IVF{nlist},PQ{m}x{nbits}`` (compressed; lossy scores); params
  ``nlist``, ``nprobe``, ``m``, ``nbits``, ``train_size``, ``niter``.
- ``auto``: ``flat`` below 50,000 vectors. Otherwise ``ivf`` with ``nprobe`` calibrated
  at build time: the smallest value whose leave-one-out recall@10 against exact search,
  on a seeded sample of gallery points used as queries, reaches ``target_recall`` (0.95).
  IVF over HNSW is measured (``bench/bench_index.py``, 1e6 x 256 clustered vectors, 2
  cores): IVF nlist=4000 nprobe=4 gave recall@10 0.987 at 0.18 ms/query (0.38 ms for a
  lone query), build 189 s, 988 MiB; HNSW M=32 needed efSearch=64 for 0.951 at
  0.24 ms/query, build 256 s, 1236 MiB. Exact search there: faiss flat 8.7 ms/query
  batched (112 ms alone), numpy 17 ms/query.

Training always uses a seeded sample (``seed``, default 0).

Folder layout written by :meth:`GalleryIndex.save`, as a unit: every file is written
into a temp folder beside the target (``.<name>.<random>.tmp``), which is then renamed
into place (an existing index is renamed away first and deleted after), so a reader sees
the old index or the new one, never a mix; ``meta.json`` holds the sha256 of every other
file, and :meth:`GalleryIndex.load` refuses a file that does not match, naming it:

- ``index.faiss``: ``faiss.write_index`` output.
- ``meta.json``: schema, model_id, dim, kind, params, count, ids, index_sha256, items_sha256.
- ``items.jsonl``: one line per item in id order, ``{"id": ..., "item": {...metadata}}``.

An existing folder is replaced only when it holds nothing but an index's files (or is
empty); any other folder is refused, so ``--out`` never deletes someone's data.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import faiss
import numpy as np

from amgan.errors import RequestError, UserError
from amgan.io import current_umask, file_mode, remove_orphans
from fir.index_build import (KINDS, _AUTO_ONLY, _PARAM_DEFAULTS, _calibrate, _make_index, _resolve_params,
                              _set_search_param)

__all__ = [
    "GalleryIndex",
    "Hit",
    "IndexMismatchError",
    "IndexFileError",
    "KINDS",
    "as_unit_vectors",
    "check_save_target",
    "exact_search_numpy",
]

log = logging.getLogger(__name__)

AUTO_FLAT_BELOW = 50_000
AUTO_KIND = "ivf"
SCHEMA = "fir.gallery_index/1"
INDEX_FILE, META_FILE, ITEMS_FILE = "index.faiss", "meta.json", "items.jsonl"
_TIE_MARGIN = 8  # extra flat results fetched so id-asc tie breaking is exact at the k-th place
_SCORE_SLACK = 1e-5  # how far BLAS rounding may move a float32 cosine score



class IndexMismatchError(UserError):
    """The index was built by a different embedding model than the one querying it."""


class IndexFileError(UserError):
    """An index folder is corrupted or its files disagree with each other."""


@dataclass(frozen=True)
class Hit:
    """One search result: 0-based ``rank``, gallery ``id``, cosine ``score``, metadata."""

    rank: int
    id: int
    score: float
    item: dict


def as_unit_vectors(x, name: str = "vectors", *, allow_1d: bool = False) -> np.ndarray:
    """Return a float32 C-contiguous L2-normalised copy of ``x`` with shape [N, D].

    Raises ``ValueError`` naming ``name`` for a wrong rank, an empty dimension, NaN/inf
    or an all-zero row (which has no direction).
    """
    a = np.array(x, dtype=np.float32, copy=True, order="C")
    if a.ndim == 1 and allow_1d:
        a = a.reshape(1, -1)
    if a.ndim != 2:
        want = "[D] or [Q, D]" if allow_1d else "[N, D]"
        raise ValueError(f"{name} must have shape {want}; got shape {tuple(a.shape)}")
    if a.shape[1] == 0:
        raise ValueError(f"{name} have dimension 0; got shape {tuple(a.shape)}")
    finite = np.isfinite(a).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(f"{name} contain NaN or inf in {bad.size} row(s), first row {bad[0]}")
    zero = ~np.any(a != 0, axis=1)
    if zero.any():
        bad = np.flatnonzero(zero)
        raise ValueError(f"{name} have {bad.size} all-zero row(s) (no direction to "
                         f"normalise), first row {bad[0]}")
    faiss.normalize_L2(a)
    return a


def _sort_results(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Order each row by score desc, then id asc; -1 ids (missing) last; keep k columns."""
    scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
    id_key = np.where(ids < 0, np.iinfo(np.int64).max, ids)
    order = np.lexsort((id_key, -scores), axis=-1)[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)


def exact_search_numpy(gallery, queries, k: int, ids=None, batch: int = 100
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force reference search in numpy: cosine top-k, ties by id ascending.

    ``gallery`` [N, D] and ``queries`` [Q, D] (or [D]) are normalised like the index
    does; ``ids`` (default ``arange(N)``) label gallery rows. ``k`` larger than N is
    clamped. Queries are scored ``batch`` at a time. Returns (scores [Q, k], ids [Q, k]).
    """
    g = as_unit_vectors(gallery, "gallery")
    q = as_unit_vectors(queries, "queries", allow_1d=True)
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"queries have dimension {q.shape[1]} but gallery has {g.shape[1]}")
    n = g.shape[0]
    ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    if ids.shape != (n,):
        raise ValueError(f"ids must have shape [{n}]; got {ids.shape}")
    k = check_k(k, n)
    out_s = np.empty((q.shape[0], k), np.float32)
    out_i = np.empty((q.shape[0], k), np.int64)
    for lo in range(0, q.shape[0], batch):
        s = q[lo:lo + batch] @ g.T
        if k < n:
            kth = -np.partition(-s, k - 1, axis=1)[:, k - 1]  # k-th largest score per row
        else:
            kth = s.min(axis=1)
        for r in range(s.shape[0]):
            # candidates: everything within the BLAS rounding of the k-th score, then re-scored one
            # dot product each (exact duplicates tie exactly, whatever their position)
            cand = np.flatnonzero(s[r] >= kth[r] - _SCORE_SLACK)
            sc = rescore(q[lo + r][None], g[cand][None])[0]
            order = np.lexsort((ids[cand], -sc))[:k]
            out_s[lo + r] = sc[order]
            out_i[lo + r] = ids[cand[order]]
    return out_s, out_i


def rescore(q: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """Cosine scores of queries [Q, D] against their candidates [Q, K, D], one float64 dot
    product each (cast to float32): equal vectors get equal scores wherever they sit."""
    return np.einsum("qd,qkd->qk", q.astype(np.float64), xb.astype(np.float64)).astype(np.float32)


def check_k(k, n: int) -> int:
    """``k`` checked (a whole number >= 1) and capped at the ``n`` items there are."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise RequestError(f"k must be a whole number >= 1 (a positive integer), got {str(k)[:40]!r}")
    return int(min(k, n))


class GalleryIndex:
    """A faiss index over unit vectors, with int64 ids, metadata and the model's identity.

    Build with :meth:`build`, query with :meth:`search` / :meth:`search_items`, persist
    with :meth:`save` / :meth:`load`. ``model_id`` names the embedding model that made the
    vectors (e.g. the sha256 of its checkpoint); :meth:`load` and :meth:`check_model`
    refuse a different one.
    """

    def __init__(self, index, ids, metadata: Sequence[dict], model_id: str, kind: str,
                 params: dict):
        ids = np.asarray(ids, dtype=np.int64)
        if index.ntotal != ids.shape[0] or len(metadata) != ids.shape[0]:
            raise ValueError(f"index holds {index.ntotal} vectors, {ids.shape[0]} ids, "
                             f"{len(metadata)} metadata items; they must agree")
        if ids.size > 1 and not np.all(np.diff(ids) > 0):
            raise ValueError("ids must be unique and stored in ascending order")
        self.index, self.ids, self.metadata = index, ids, list(metadata)
        self.model_id, self.kind, self.params = model_id, kind, dict(params)

    # ---------------------------------------------------------------- building
    @classmethod
    def build(cls, vectors, metadata: Sequence[Mapping], model_id: str, kind: str = "auto",
              *, ids=None, seed: int = 0, **params) -> "GalleryIndex":
        """Build an index over ``vectors`` [N, D] with one metadata dict per row.

        ``ids`` (default ``arange(N)``) are unique non-negative int64; rows are re-ordered
        by id. ``params`` are the kind's parameters (see the module docstring); ``auto``
        also takes ``target_recall`` and ``calibration_queries``.
        """
        t0 = time.perf_counter()
        x = as_unit_vectors(vectors, "vectors")
        n, d = x.shape
        if not isinstance(model_id, str) or not model_id:
            raise ValueError(f"model_id must be a non-empty string; got {model_id!r}")
        if isinstance(metadata, (str, bytes, Mapping)) or len(metadata) != n:
            got = len(metadata) if isinstance(metadata, Sequence) else type(metadata).__name__
            raise ValueError(f"metadata must be a list of {n} dicts (one per vector); got {got}")
        bad = [i for i, m in enumerate(metadata) if not isinstance(m, Mapping)]
        if bad:
            raise ValueError(f"metadata[{bad[0]}] is a {type(metadata[bad[0]]).__name__}, "
                             f"not a dict")
        ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids)
        if ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"ids must be {n} integers; got shape {ids.shape}, {ids.dtype}")
        ids = ids.astype(np.int64)
        if ids.size and ids.min() < 0:
            raise ValueError("ids must be non-negative (-1 marks a missing result)")
        order = np.argsort(ids, kind="stable")
        if n > 1 and np.any(np.diff(ids[order]) == 0):
            raise ValueError("ids must be unique")
        if not np.array_equal(order, np.arange(n)):
            x, ids = np.ascontiguousarray(x[order]), ids[order]
        meta = [dict(metadata[i]) for i in order]

        auto = {}
        if kind == "auto":
            auto = {key: params.pop(key, v) for key, v in _AUTO_ONLY.items()}
            kind = "flat" if n < AUTO_FLAT_BELOW else AUTO_KIND
            if kind == "flat":
                params = {}
        elif set(_AUTO_ONLY) & set(params):
            raise ValueError(f"{sorted(set(_AUTO_ONLY) & set(params))} only apply to kind='auto'")
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; choose one of {KINDS + ('auto',)}")
        p = _resolve_params(kind, n, d, params)
        index = _make_index(kind, x, p, seed)
        if auto and kind != "flat":
            p.update(_calibrate(index, kind, x, p, float(auto["target_recall"]),
                                int(auto["calibration_queries"]), seed))
            _set_search_param(index, kind, p)
        if auto:
            p["selected_by"] = "auto"
        p["seed"] = seed
        p["build_seconds"] = round(time.perf_counter() - t0, 3)
        return cls(index, ids, meta, model_id, kind, p)

    # ---------------------------------------------------------------- querying
    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return (f"GalleryIndex(kind={self.kind!r}, count={self.count}, dim={self.dim}, "
                f"model_id={self.model_id[:16]!r})")

    def set_search_params(self, *, nprobe: int | None = None, ef_search: int | None = None):
        """Change the speed/recall knob: ``nprobe`` (ivf, ivfpq) or ``ef_search`` (hnsw)."""
        for key, v in (("nprobe", nprobe), ("ef_search", ef_search)):
            if v is None:
                continue
            if key not in _PARAM_DEFAULTS[self.kind]:
                raise ValueError(f"{key} does not apply to a {self.kind!r} index")
            self.params[key] = int(v)
        _set_search_param(self.index, self.kind, self.params)

    def check_model(self, model_id: str) -> None:
        """Raise :class:`IndexMismatchError` unless ``model_id`` built this index."""
        if model_id != self.model_id:
            raise IndexMismatchError(
                f"the gallery index was built by embedding model {self.model_id!r} but the "
                f"query model is {model_id!r}; rebuild the index with `fir index`")

    def search(self, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k cosine search. ``queries`` [Q, D] or [D]; k > N is clamped to N.

        Returns (scores [Q, k] float32, ids [Q, k] int64), always 2-D, ordered by score
        desc then id asc; id -1 / score -inf mark results an approximate index missed.
        """
        q = as_unit_vectors(queries, "queries", allow_1d=True)
        if q.shape[1] != self.dim:
            raise ValueError(f"queries have dimension {q.shape[1]} but the index has "
                             f"{self.dim} (built by model {self.model_id!r})")
        k = check_k(k, self.count)
        fetch = min(self.count, k + _TIE_MARGIN) if self.kind == "flat" else k
        scores, pos = self.index.search(q, fetch)
        if self.kind == "flat":
            # faiss's batched BLAS path may round equal vectors differently by position; re-score the
            # candidates one dot product each, so exact duplicates tie exactly and break by id
            xb = self.index.reconstruct_batch(np.clip(pos, 0, None).ravel()).reshape(*pos.shape, -1)
            scores = np.where(pos >= 0, rescore(q, xb), scores).astype(np.float32)
        ids = np.where(pos >= 0, self.ids[np.clip(pos, 0, None)], -1)
        return _sort_results(scores, ids, k)

    def search_items(self, queries, k: int) -> list[list[Hit]]:
        """Like :meth:`search`, returning per query a list of :class:`Hit` with metadata."""
        scores, ids = self.search(queries, k)
        pos = np.searchsorted(self.ids, ids)
        return [[Hit(rank=r, id=int(i), score=float(s), item=self.metadata[int(p)])
                 for r, (s, i, p) in enumerate(zip(srow, irow, prow)) if i >= 0]
                for srow, irow, prow in zip(scores, ids, pos)]

    # ---------------------------------------------------------------- files
    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``index.faiss``, ``items.jsonl`` and ``meta.json`` (with the sha256 of the other
        two) into a temp folder beside ``folder``, then rename it into place (replacing an
        existing index; see the module docstring). A failed save leaves ``folder`` as it was."""
        folder = Path(folder)
        check_save_target(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(folder.parent, names=[folder.name])  # temp folders of a killed save
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
        try:
            faiss.write_index(self.index, str(tmp / INDEX_FILE))
            lines = [json.dumps({"id": int(i), "item": m}, default=_json_default, sort_keys=True)
                     for i, m in zip(self.ids, self.metadata)]
            _write_file(tmp / ITEMS_FILE, "".join(line + "\n" for line in lines).encode("utf-8"))
            meta = {"schema": SCHEMA, "model_id": self.model_id, "dim": self.dim,
                    "kind": self.kind, "metric": "inner_product", "params": self.params,
                    "count": self.count, "faiss_version": faiss.__version__,
                    "index_sha256": _sha256(tmp / INDEX_FILE),
                    "items_sha256": _sha256(tmp / ITEMS_FILE), "ids": self.ids.tolist()}
            _write_file(tmp / META_FILE, json.dumps(meta, default=_json_default).encode("utf-8"))
            mode = file_mode()
            for f in tmp.iterdir():
                os.chmod(f, mode)
                _fsync(f)
            os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it 0700
            _fsync(tmp)
            _swap_in(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike, expect_model_id: str | None = None
             ) -> "GalleryIndex":
        """Load a saved index; check the files agree and, if given, the model identity."""
        folder = Path(folder)
        if not folder.is_dir():
            raise IndexFileError(f"no gallery index folder at {folder}; build one with "
                                    f"`fir index`")
        missing = [f for f in (INDEX_FILE, META_FILE, ITEMS_FILE) if not (folder / f).is_file()]
        if missing:
            raise IndexFileError(f"gallery index folder {folder} is missing {missing}; "
                                    f"rebuild it with `fir index`")
        meta = _read_meta(folder / META_FILE)
        if expect_model_id is not None and meta["model_id"] != expect_model_id:
            raise IndexMismatchError(
                f"the gallery index in {folder} was built by embedding model "
                f"{meta['model_id']!r} but the query model is {expect_model_id!r}; "
                f"rebuild the index with `fir index`")
        count, ids = meta["count"], np.asarray(meta["ids"], dtype=np.int64)
        if ids.shape != (count,):
            raise IndexFileError(f"{folder / META_FILE}: count is {count} but it lists "
                                 f"{ids.size} ids")
        digest = _sha256(folder / INDEX_FILE)
        if digest != meta["index_sha256"]:
            raise IndexFileError(f"{folder / INDEX_FILE} does not match {META_FILE} (sha256 "
                                 f"differs): the file is corrupted or from another save; "
                                 f"rebuild with `fir index`")
        try:
            index = faiss.read_index(str(folder / INDEX_FILE))
        except RuntimeError as e:
            raise IndexFileError(f"cannot read {folder / INDEX_FILE}: {e}") from None
        if index.ntotal != count or index.d != meta["dim"]:
            raise IndexFileError(f"{folder / INDEX_FILE} holds {index.ntotal} vectors of "
                                 f"dimension {index.d}, but {META_FILE} says {count} of "
                                 f"dimension {meta['dim']}")
        items = _read_items(folder / ITEMS_FILE, ids, meta["items_sha256"])
        _set_search_param(index, meta["kind"], meta["params"])
        try:
            return cls(index, ids, items, meta["model_id"], meta["kind"], meta["params"])
        except ValueError as e:
            raise IndexFileError(f"{folder}: {e}") from None


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"metadata value of type {type(o).__name__} is not JSON-serialisable")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


_INDEX_FILES = (INDEX_FILE, META_FILE, ITEMS_FILE)


def check_save_target(folder: str | os.PathLike) -> None:
    """Refuse a :meth:`GalleryIndex.save` target that is a file, or a folder holding anything but
    an index's files (temp files of an earlier per-file save included): replacing it would delete
    them. Callers may check before the (slow) embedding; ``save`` checks again."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise IndexFileError(f"{folder} exists and is not a folder; give a folder for the gallery index")
    above = next((q for q in folder.parents if q.exists()), None)
    if above is not None and not above.is_dir():
        raise IndexFileError(f"cannot make the gallery index folder {folder}: {above} is a file, not a folder")
    if not folder.is_dir():
        return
    other = sorted(p.name for p in folder.iterdir()
                   if p.name not in _INDEX_FILES
                   and not (p.name.endswith(".tmp") and any(p.name.startswith(f".{n}.") for n in _INDEX_FILES)))
    if other:
        shown = ", ".join(other[:3]) + (f" and {len(other) - 3} more" if len(other) > 3 else "")
        raise IndexFileError(f"{folder} is a folder with other files in it ({shown}), not a gallery index; "
                             f"choose a new or empty folder for the index")


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync a folder
        pass
    finally:
        os.close(fd)


def _swap_in(tmp: Path, folder: Path) -> None:
    """Rename the finished temp folder ``tmp`` to ``folder``: an existing one is renamed away
    (to a ``.<name>.<random>.old.tmp`` that :func:`amgan.io.remove_orphans` also cleans up),
    the new one renamed in, the old one deleted; if renaming in fails, the old one goes back."""
    if not folder.exists():
        os.rename(tmp, folder)
        return
    old = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.old.tmp")
    os.rename(folder, old)
    try:
        os.rename(tmp, folder)
    except BaseException:
        os.rename(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)
    _fsync(folder.parent)


def _read_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IndexFileError(f"{path} is not valid JSON ({e}); rebuild with `fir index`") from None
    if not isinstance(meta, dict):
        raise IndexFileError(f"{path} must hold a JSON object")
    if meta.get("schema") != SCHEMA:
        raise IndexFileError(f"{path}: schema is {meta.get('schema')!r}, expected {SCHEMA!r}")
    need = ("model_id", "dim", "kind", "params", "count", "ids", "index_sha256", "items_sha256")
    lacking = [key for key in need if key not in meta]
    if lacking:
        raise IndexFileError(f"{path} lacks {lacking}; rebuild with `fir index`")
    if meta["kind"] not in KINDS:
        raise IndexFileError(f"{path}: unknown kind {meta['kind']!r}")
    return meta


def _read_items(path: Path, ids: np.ndarray, sha256: str | None = None) -> list[dict]:
    """The item records of ``items.jsonl``, checked line by line against ``ids`` and, as a
    whole, against its ``sha256`` in ``meta.json``."""
    data = path.read_bytes()
    items = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise IndexFileError(f"{path} is not UTF-8 text ({e}); rebuild with `fir index`") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        try:
            rec = json.loads(line)
            items.append(rec["item"])
            rec_id = rec["id"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise IndexFileError(f"{path}:{lineno}: not an item record ({e})") from None
        if lineno > ids.size or rec_id != ids[lineno - 1]:
            raise IndexFileError(f"{path}:{lineno}: item id {rec_id} does not match "
                                 f"{META_FILE} (count {ids.size})")
    if len(items) != ids.size:
        raise IndexFileError(f"{path} has {len(items)} items but {META_FILE} says {ids.size}")
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise IndexFileError(f"{path} does not match {META_FILE} (sha256 differs): the file was changed or "
                             f"is from another save; rebuild with `fir index`")
    return items
