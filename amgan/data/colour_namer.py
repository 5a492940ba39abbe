"""A colour namer learned from a person's names: ``amgan data train-namer DIR``.

The annotator's rule (:func:`amgan.data.annotate.read_colour`: every garment pixel votes
for its nearest palette anchor) agrees with a person on about two photos in three; the
mistakes are systematic and a person resolves them from the same pixels: a dim white
shirt on a dark floor is "white" though its pixels are grey, a crimson reads pink to the
anchors, pale blue and pale pink read white. So the same pixels, summarised, go through
a multinomial logistic regression fitted to the colours people wrote down for the
photos of the **train** split (``amgan/data/labels``; never the blind test set).

Features of one photo (:func:`colour_features`; the garment mask and the exposure step
are the annotator's own, so both read the same pixels):

- the share of the garment's trimmed pixels nearest each of the palette's 48 anchors
  (square root: small shares matter);
- CIELAB quantiles (10, 25, 50, 75, 90 %) of those pixels, and of all garment pixels
  (the trimmed shadows and highlights say white or black too);
- chroma and hue (cosine, sine) of the median;
- the median CIELAB of the background (a person discounts a warm floor) and the photo's
  99th percentile of L* (how the camera exposed it);
- the exposure gain the annotator applied, and the garment's share of the photo.

The model has a 13th class, ``unknown``, learned from the photos people called so
(stripes in equal shares, a print over most of the garment); a photo whose most likely
class is ``unknown``, or whose best colour is below ``min_confidence``, is named unknown.

Stored as JSON (names, feature means and scales, weights, bias, provenance): plain numbers,
no pickle; :meth:`ColourNamer.load` checks every shape.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from amgan.data.annotate import SHIPPED_NAMER as DEFAULT_NAMER  # the shipped namer
from amgan.errors import UserError
from amgan.io import atomic_write_text

__all__ = ["FEATURES", "N_FEATURES", "ColourNamer", "NamerError", "colour_features", "fit_namer",
           "DEFAULT_NAMER", "fuse"]

FEATURES = "colour-features-v1"
UNKNOWN = "unknown"
QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)


class NamerError(UserError):
    """A namer file is missing or malformed, or it cannot be trained; one line each."""


def _n_features() -> int:
    from amgan.data.annotate import PALETTE

    anchors = sum(len(v) for v in PALETTE.values())
    return anchors + 2 * 3 * len(QUANTILES) + 3 + 3 + 1 + 2


N_FEATURES = _n_features()


def colour_features(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The features of one photo (RGB uint8 [H, W, 3], garment mask bool [H, W]) as float32
    [:data:`N_FEATURES`], or None when the garment has too few pixels to read."""
    from amgan.data.annotate import (MIN_PIXELS, PALETTE, RIM, TRIM, _bins, _lut, expose, exposure_gain, inner_mask,
                                     trim_by_lightness)

    rgb, full = np.asarray(rgb), np.asarray(mask, bool)
    px = rgb[inner_mask(full, RIM)]
    if len(px) < MIN_PIXELS:
        return None
    lut = _lut(tuple(PALETTE))
    gain = exposure_gain(rgb)
    bins = _bins(expose(px, gain))
    lut.fill(bins)
    lab = lut.lab[bins]
    keep = trim_by_lightness(lab[:, 0], TRIM)
    n_anchors = sum(len(v) for v in PALETTE.values())
    share = np.bincount(lut.anchor[bins[keep]], minlength=n_anchors) / keep.sum()
    q_kept = np.quantile(lab[keep], QUANTILES, axis=0).T.ravel() / 100  # [3 * 5]
    q_all = np.quantile(lab, QUANTILES, axis=0).T.ravel() / 100
    a, b = np.median(lab[keep, 1]), np.median(lab[keep, 2])
    chroma = math.hypot(a, b)
    hue = (a / chroma, b / chroma) if chroma > 1e-6 else (0.0, 0.0)
    back = rgb[~full]
    back_lab = np.median(lut.lab[_bins(back[:: max(1, len(back) // 20000)])], axis=0) / 100 if len(back) else np.zeros(3)
    l99 = float(np.quantile(lut.L[_bins(rgb[::2, ::2])], 0.99)) / 100
    out = np.concatenate([np.sqrt(share), q_kept, q_all, [chroma / 100, *hue], back_lab, [l99],
                          [math.log(gain), float(full.mean())]]).astype(np.float32)
    assert out.shape == (N_FEATURES,)
    return out


def fuse(p_reader: np.ndarray, p_namer: np.ndarray, weight: float) -> np.ndarray:
    """A reading of one photo's colour from two: the CAM classifier's probabilities ``p_reader`` [V]
    and the namer's over the same V colours ``p_namer`` (its "unknown" left out), as a product of
    experts, ``p_namer ** weight * p_reader ** (1 - weight)`` normalised. ``weight`` 1: the namer alone."""
    lp = weight * np.log(np.clip(p_namer / max(float(p_namer.sum()), 1e-12), 1e-9, 1.0)) \
        + (1 - weight) * np.log(np.clip(p_reader, 1e-9, 1.0))
    e = np.exp(lp - lp.max())
    return e / e.sum()


@dataclass
class ColourNamer:
    names: tuple[str, ...]  # the schema's colours, then "unknown"
    mean: np.ndarray  # [F]
    scale: np.ndarray  # [F]
    weight: np.ndarray  # [C, F]
    bias: np.ndarray  # [C]
    min_confidence: float = 0.0
    provenance: dict = field(default_factory=dict)

    @property
    def colours(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if n != UNKNOWN)

    def probs(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities [N, C] for features [N, F] (or [F] -> [C])."""
        x = np.asarray(x, np.float64)
        z = ((x - self.mean) / self.scale) @ self.weight.T + self.bias
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def name(self, p: np.ndarray) -> tuple[str | None, float, str, str]:
        """(colour or None, confidence, best colour, runner-up colour) from one row of :meth:`probs`."""
        cols = [i for i, n in enumerate(self.names) if n != UNKNOWN]
        pc = p[cols]
        order = np.argsort(-pc, kind="stable")
        best, second = self.names[cols[order[0]]], self.names[cols[order[1]]]
        conf = float(pc[order[0]])
        top = self.names[int(np.argmax(p))]
        known = top != UNKNOWN and conf >= self.min_confidence
        return (best if known else None), conf, best, second

    def colour_probs(self, rgb: np.ndarray, mask: np.ndarray, colours: tuple[str, ...]) -> np.ndarray | None:
        """Probabilities [len(colours)] of the garment's colour over ``colours`` (the schema's, in its
        order; "unknown" left out, not renormalised), or None when the mask has too few pixels."""
        x = colour_features(rgb, mask)
        if x is None:
            return None
        p = self.probs(x)
        return np.array([p[self.names.index(c)] for c in colours])

    def read(self, rgb: np.ndarray, mask: np.ndarray):
        """A :class:`amgan.data.annotate.ColourReading` of the garment, like the annotator's rule."""
        from amgan.data.annotate import ColourReading

        x = colour_features(rgb, mask)
        if x is None:
            return ColourReading(None, 0.0, "", "", int(np.asarray(mask, bool).sum()))
        color, conf, best, second = self.name(self.probs(x))
        return ColourReading(color, conf, best, second, int(np.asarray(mask, bool).sum()))

    # -- files ---------------------------------------------------------------
    def save(self, path) -> None:
        doc = {"format": "amgan-colour-namer", "features": FEATURES, "names": list(self.names),
               "min_confidence": self.min_confidence, "mean": self.mean.tolist(), "scale": self.scale.tolist(),
               "weight": self.weight.tolist(), "bias": self.bias.tolist(), "provenance": self.provenance}
        atomic_write_text(Path(path), json.dumps(doc, indent=1) + "\n")

    @classmethod
    def load(cls, path, *, colours: tuple[str, ...] | None = None) -> "ColourNamer":
        """Read a namer file; ``colours``: the names it must cover (the schema's), checked."""
        path = Path(path)
        if not path.is_file():
            raise NamerError(f"colour namer not found: {path}")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise NamerError(f"{path}: not a colour namer file ({type(e).__name__}: {e})") from None
        if not isinstance(doc, dict) or doc.get("format") != "amgan-colour-namer":
            raise NamerError(f"{path}: not a colour namer file (format must be 'amgan-colour-namer')")
        if doc.get("features") != FEATURES:
            raise NamerError(f"{path}: made for features {doc.get('features')!r}; this version computes {FEATURES!r}")
        try:
            names = tuple(str(n) for n in doc["names"])
            mean, scale = np.asarray(doc["mean"], np.float64), np.asarray(doc["scale"], np.float64)
            weight, bias = np.asarray(doc["weight"], np.float64), np.asarray(doc["bias"], np.float64)
            min_conf = float(doc.get("min_confidence", 0.0))
        except (KeyError, TypeError, ValueError) as e:
            raise NamerError(f"{path}: missing or malformed field ({type(e).__name__}: {e})") from None
        c, f = len(names), N_FEATURES
        if mean.shape != (f,) or scale.shape != (f,) or weight.shape != (c, f) or bias.shape != (c,):
            raise NamerError(f"{path}: shapes do not fit {c} names x {f} features "
                             f"(mean {mean.shape}, scale {scale.shape}, weight {weight.shape}, bias {bias.shape})")
        if not 0.0 <= min_conf < 1.0:
            raise NamerError(f"{path}: min_confidence must be in [0, 1), got {min_conf}")
        if not (np.isfinite(weight).all() and np.isfinite(bias).all() and np.isfinite(mean).all()
                and (scale > 0).all()):
            raise NamerError(f"{path}: non-finite weights or non-positive scales")
        if colours is not None and set(n for n in names if n != UNKNOWN) != set(colours):
            raise NamerError(f"{path}: names {', '.join(names)}; the schema's colours are {', '.join(colours)}")
        return cls(names, mean, scale, weight, bias, min_conf, dict(doc.get("provenance") or {}))


def fit_namer(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], *, l2: float = 1e-2,
              alt: np.ndarray | None = None, alt_weight: float = 0.0, steps: int = 200) -> ColourNamer:
    """Multinomial logistic regression on standardised features (full-batch L-BFGS, L2 on the weights).

    ``y``: class index per row (into ``names``); ``alt``: a second acceptable class or -1, taking
    ``alt_weight`` of the row's target mass."""
    import torch

    x = np.asarray(x, np.float64)
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    xs = torch.as_tensor((x - mean) / scale)
    t = torch.zeros(len(y), len(names), dtype=torch.float64)
    t[torch.arange(len(y)), torch.as_tensor(y)] = 1.0
    if alt is not None and alt_weight > 0:
        has = torch.as_tensor(alt) >= 0
        t[has] *= 1 - alt_weight
        t[has.nonzero().squeeze(1), torch.as_tensor(alt)[has]] += alt_weight
    g = torch.Generator().manual_seed(0)
    w = (torch.randn(len(names), x.shape[1], generator=g, dtype=torch.float64) * 0.01).requires_grad_()
    b = torch.zeros(len(names), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = -(t * torch.log_softmax(xs @ w.T + b, 1)).sum(1).mean() + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return ColourNamer(tuple(names), mean, scale, w.detach().numpy().copy(), b.detach().numpy().copy())


# ---------------------------------------------------------------------------
# a data set's photos and a person's colour names
# ---------------------------------------------------------------------------
def _features_one(job: tuple[str, str, str]) -> tuple[str, np.ndarray | None, str, tuple]:
    """(root, photo path, mask cell) -> (path, features or None, error, the palette rule's (colour, best))."""
    from PIL import Image

    from amgan.data.annotate import colour_view, read_colour

    root, path, mask_cell = job
    try:
        with Image.open(Path(root) / path) as im:
            rgb = np.asarray(im.convert("RGB"))
        with Image.open(Path(root) / mask_cell) as m:
            mask = np.asarray(m) > 0
    except (OSError, SyntaxError, ValueError) as e:
        return path, None, f"cannot read {path} or its mask: {type(e).__name__}: {e}", (None, "")
    if mask.shape != rgb.shape[:2]:
        return path, None, f"{mask_cell}: mask {mask.shape} and photo {rgb.shape[:2]} differ in size", (None, "")
    view, vmask = colour_view(rgb, mask)
    rule = read_colour(view, vmask)
    return path, colour_features(view, vmask), "", (rule.color, rule.best)


def dataset_features(folder, jobs: list[tuple[str, str]], *, workers: int | None = None,
                     progress: bool = True) -> tuple[dict[str, np.ndarray | None], dict[str, tuple]]:
    """Features of the photos ``jobs`` = [(path, mask cell)] of the data set ``folder``:
    ``{path: features or None}`` (None: too few garment pixels), and ``{path: (colour or None,
    best)}`` of the palette rule on the same pixels, to compare."""
    import os

    from tqdm import tqdm

    from amgan.data.annotate import _init_worker

    work = [(str(folder), p, m) for p, m in jobs]
    n = max(1, min(workers or min(2, os.cpu_count() or 1), len(work)))
    bar = dict(total=len(work), desc="colour features", unit="photo", disable=not progress)
    if n == 1:
        results = [_features_one(j) for j in tqdm(work, **bar)]
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(n, initializer=_init_worker) as pool:
            results = list(tqdm(pool.imap(_features_one, work, chunksize=8), **bar))
    errors = [e for _, _, e, _ in results if e]
    if errors:
        raise NamerError(f"{len(errors)} photos could not be read: " + "; ".join(errors[:3]))
    return {p: f for p, f, _, _ in results}, {p: r for p, _, _, r in results}


def read_colour_names(files, schema) -> dict[str, tuple[str, str]]:
    """``{image: (colour or "unknown", second name or "")}`` from hand-label files
    (:func:`amgan.data.hand_labels.read_hand_labels`: every value checked against ``schema``)."""
    from amgan.data.hand_labels import HandLabelError, _value_names, read_hand_labels

    try:
        labels = read_hand_labels(files, **_value_names(schema))
    except HandLabelError as e:
        raise NamerError(str(e)) from None
    return {image: (r["color"], r["color_alt"]) for image, r in labels.items() if r["color"] is not None}


def score(namer: ColourNamer, x: np.ndarray, names: list[tuple[str, str]]) -> dict:
    """:func:`score_readings` of the namer's readings of the features ``x``."""
    return score_readings([(color, best) for color, _, best, _ in map(namer.name, namer.probs(x))], names)


def score_readings(readings: list[tuple], names: list[tuple[str, str]]) -> dict:
    """Agreement of readings [(colour or None, best)] with a person's names [(colour or "unknown", second
    name or "")], as ``amgan data annotate-eval`` counts it: over photos with a known colour,
    ``coverage`` (named), ``strict``/``lenient`` of those named, ``*_all`` for the best colour on every
    photo; over photos called unknown, how often the reading abstained too."""
    k = dict(n=0, named=0, strict=0, lenient=0, strict_all=0, lenient_all=0)
    u = dict(n=0, abstained=0)
    for (color, best), (c, alt) in zip(readings, names):
        if c == UNKNOWN:
            u["n"] += 1
            u["abstained"] += color is None
            continue
        k["n"] += 1
        k["strict_all"] += best == c
        k["lenient_all"] += best in (c, alt)
        if color is not None:
            k["named"] += 1
            k["strict"] += color == c
            k["lenient"] += color in (c, alt)
    r = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
    return {"photos": len(names), "known": k["n"], "coverage": r(k["named"], k["n"]),
            "strict": r(k["strict"], k["named"]), "lenient": r(k["lenient"], k["named"]),
            "strict_all": r(k["strict_all"], k["n"]), "lenient_all": r(k["lenient_all"], k["n"]),
            "unknown": u["n"], "unknown_abstained": r(u["abstained"], u["n"])}


RULE_KEYS = ("known", "coverage", "strict", "strict_all", "lenient_all")  # what a namer's provenance keeps of the rule


def train_namer(folder, labels, *, out, exclude=None, l2: float = 1e-2, alt_weight: float = 0.25,
                min_confidence: float = 0.4, workers: int | None = None, progress: bool = True) -> dict:
    """Fit a :class:`ColourNamer` to the colours people wrote down (``labels``: label files) for the
    **train** split of the annotated photo set ``folder``; score it and the palette rule on the
    val split; write it to ``out``. ``exclude``: the blind test set's label file (a label of one
    of its photos is refused)."""
    import datetime

    from amgan.data.hand_labels import _blind_images
    from amgan.data.manifest import read_manifest

    folder = Path(folder)
    m = read_manifest(folder)
    if "color" not in m.schema.names:
        raise NamerError(f"{folder}: the schema has no 'color' group")
    colours = tuple(m.schema.group("color").values)
    names = read_colour_names(labels, m.schema)
    if exclude:
        leaked = sorted(set(names) & _blind_images(exclude))
        if leaked:
            raise NamerError(f"{len(leaked)} photos of the blind set {exclude} are in the label files "
                             f"(first: {leaked[0]}); the blind set is never trained on")
    rows = [i for i in range(len(m)) if m.product_ids[i] in names and m.splits[i] in ("train", "val")]
    no_mask = [i for i in rows if not m.masks[i]]
    rows = [i for i in rows if m.masks[i]]
    if not any(m.splits[i] == "train" for i in rows):
        raise NamerError(f"{folder}: no train-split photo with a garment mask has a label in "
                         f"{', '.join(map(str, labels))} (run amgan data annotate first)")
    feats, rule = dataset_features(folder, [(m.paths[i], m.masks[i]) for i in rows], workers=workers,
                                   progress=progress)
    classes = colours + (UNKNOWN,)
    split = {"train": [], "val": []}
    for i in rows:
        if feats[m.paths[i]] is not None:
            split[m.splits[i]].append(i)
    x = {k: np.stack([feats[m.paths[i]] for i in v]) if v else np.zeros((0, N_FEATURES)) for k, v in split.items()}
    nm = {k: [names[m.product_ids[i]] for i in v] for k, v in split.items()}
    y = np.array([classes.index(c) for c, _ in nm["train"]])
    alt = np.array([classes.index(a) if a else -1 for _, a in nm["train"]])
    if not 0.0 <= min_confidence < 1.0:
        raise NamerError(f"min_confidence must be in [0, 1), got {min_confidence}")
    namer = fit_namer(x["train"], y, classes, l2=l2, alt=alt, alt_weight=alt_weight)
    namer.min_confidence = float(min_confidence)
    val = score(namer, x["val"], nm["val"]) if split["val"] else None
    val_rule = ({k: v for k, v in score_readings([rule[m.paths[i]] for i in split["val"]], nm["val"]).items()
                 if k in RULE_KEYS} if split["val"] else None)
    namer.provenance = {
        "trained": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": str(folder), "label_files": [str(f) for f in labels], "exclude": str(exclude or ""),
        "train_photos": len(split["train"]), "train_unknown": int((y == len(colours)).sum()),
        "skipped_no_mask": len(no_mask), "l2": l2, "alt_weight": alt_weight, "min_confidence": min_confidence,
        "val": val, "val_palette_rule": val_rule}
    namer.save(out)
    return {"out": str(out), **namer.provenance}
