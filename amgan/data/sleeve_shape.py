"""Sleeve length read from the garment's outline: ``amgan data train-sleeve-shape DIR``.

The photo reader (a CAM classifier on a frozen ImageNet trunk) reads a photo's sleeves from its
appearance, and it takes shortcuts the training photos allow: most of the hung garments of the
train split's contributors are long-sleeved (shirts, jackets, blazers on hangers), so T-shirts hung
on a hanger by a contributor it never saw are read "long" with 0.9 confidence (11 of the 31 val
errors). The garment's outline says it plainly: a short sleeve ends near the armpit and the torso
narrows below it; a long one runs down beside the torso or out to the side.

So a small CNN reads sleeve length from the garment's **silhouette** alone (the GrabCut mask the
annotator and the editor compute anyway, cropped to its bounding box, padded to a square,
:data:`SIZE` px): it cannot see the background, the hanger or the print. Trained on the train
split's photos with a known sleeve (a person's label where one looked, else the garment class),
with mirror, rotation, scale and shift augmentation (kornia); the blind test set's photos are
refused. Read with its mirror image too (the mean of the two).

The editor fuses its reading with the classifier's as a product of experts
(:func:`amgan.data.colour_namer.fuse`, ``sleeve_shape.weight``), as it does the colour namer's.

Stored as a ``torch.save`` dict of tensors and plain values (loaded with ``weights_only=True``):
format, sleeve values, input size, width, fp16 weights and provenance; :meth:`SleeveShape.load`
checks the format, the values and every tensor's shape.
"""
from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from amgan.errors import UserError

__all__ = ["FORMAT", "SIZE", "SleeveShape", "SleeveShapeError", "silhouette", "sleeve_sheet", "train_sleeve_shape"]

FORMAT = "sleeve-shape-v1"
SIZE = 64  # the silhouette's side
MIN_PIXELS = 50  # a mask with fewer garment pixels has no outline to read


class SleeveShapeError(UserError):
    """A sleeve-shape file is missing or malformed, or a model cannot be trained; one line each."""


def silhouette(mask: np.ndarray, size: int = SIZE) -> np.ndarray | None:
    """A garment mask (bool [H, W]) as float32 [size, size] in [0, 1]: cropped to its bounding box,
    centred on a square (so the aspect ratio is kept) and area-resized; None when it has fewer than
    :data:`MIN_PIXELS` pixels."""
    from PIL import Image

    a = np.asarray(mask, bool)
    if a.ndim != 2:
        raise ValueError(f"a garment mask is 2-D, got shape {a.shape}")
    ys, xs = np.nonzero(a)
    if len(ys) < MIN_PIXELS:
        return None
    a = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = a.shape
    s = max(h, w)
    sq = np.zeros((s, s), np.uint8)
    sq[(s - h) // 2:(s - h) // 2 + h, (s - w) // 2:(s - w) // 2 + w] = a * 255
    return np.asarray(Image.fromarray(sq).resize((size, size), Image.BILINEAR), np.float32) / 255


class ShapeNet(nn.Module):
    """Three stride-2 stages of two 3x3 convolutions (batch norm, ReLU), global mean, dropout, linear."""

    def __init__(self, classes: int, width: int = 32):
        super().__init__()
        layers, c_in = [], 1
        for c in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(c_in, c, 3, 2, 1), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(c_in, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean((2, 3)))


@dataclass
class SleeveShape:
    values: tuple[str, ...]  # the schema's sleeve values, in its order
    net: ShapeNet
    size: int = SIZE
    width: int = 32
    provenance: dict = field(default_factory=dict)

    @torch.no_grad()
    def probs_batch(self, sils: np.ndarray | torch.Tensor) -> np.ndarray:
        """Silhouettes [N, size, size] -> probabilities [N, V] (the mean over the image and its mirror)."""
        x = torch.as_tensor(np.asarray(sils, np.float32))[:, None]
        if x.shape[-2:] != (self.size, self.size):
            raise ValueError(f"silhouettes are {self.size}x{self.size}, got {tuple(x.shape[-2:])}")
        self.net.eval()
        return ((self.net(x).softmax(1) + self.net(x.flip(-1)).softmax(1)) / 2).numpy()

    def probs(self, mask: np.ndarray, values: tuple[str, ...] | None = None) -> np.ndarray | None:
        """The sleeve probabilities of one garment mask (bool [H, W]) in the order of ``values``
        (default: the model's), or None when the mask is too small to read."""
        s = silhouette(mask, self.size)
        if s is None:
            return None
        p = self.probs_batch(s[None])[0]
        return p if values is None or tuple(values) == self.values else p[[self.values.index(v) for v in values]]

    def save(self, path) -> Path:
        from amgan.io import atomic_torch_save

        state = {k: (v.half() if v.is_floating_point() else v) for k, v in self.net.state_dict().items()}
        return atomic_torch_save(Path(path), {"format": FORMAT, "values": list(self.values), "size": self.size,
                                              "width": self.width, "state": state, "provenance": self.provenance})

    @classmethod
    def load(cls, path, values: tuple[str, ...] | None = None) -> "SleeveShape":
        """Read a sleeve-shape file; ``values``: the schema's sleeve values it must read (any order)."""
        path = Path(path)
        if not path.is_file():
            raise SleeveShapeError(f"{path}: no such sleeve-shape file")
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file is one message
            raise SleeveShapeError(f"{path}: not a sleeve-shape file ({type(e).__name__}: {e})") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise SleeveShapeError(f"{path}: not a sleeve-shape file (format {FORMAT!r} expected)")
        try:
            names = tuple(str(v) for v in d["values"])
            size, width = int(d["size"]), int(d["width"])
            if len(names) < 2 or len(set(names)) != len(names) or not 16 <= size <= 256 or not 4 <= width <= 256:
                raise ValueError("bad values, size or width")
            net = ShapeNet(len(names), width)
            net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in d["state"].items()})
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:
            raise SleeveShapeError(f"{path}: malformed sleeve-shape file ({e})") from None
        if values is not None and set(values) != set(names):
            raise SleeveShapeError(f"{path}: reads sleeves {list(names)}, the schema has {list(values)}")
        return cls(names, net.eval(), size, width, dict(d.get("provenance") or {}))


def _photo_rows(m, split: str, si: int, blind: set[str]) -> list[int]:
    """The manifest rows of ``split`` that are photos with a garment mask and a known sleeve (group ``si``),
    outside ``blind`` (image stems)."""
    return [i for i in range(len(m)) if m.splits[i] == split and m.masks[i] and m.labels[i, si] >= 0
            and m.views[i] == "photo" and Path(m.paths[i]).stem not in blind]


def _dataset(folder: Path, m, rows: list[int], size: int, progress: bool) -> tuple[list[int], np.ndarray]:
    from PIL import Image
    from tqdm import tqdm

    keep, sils = [], []
    for i in tqdm(rows, desc="silhouettes", unit="photo", disable=not progress):
        s = silhouette(np.asarray(Image.open(m.mask_path(i))) > 0, size)
        if s is not None:
            keep.append(i)
            sils.append(s)
    return keep, (np.stack(sils) if sils else np.zeros((0, size, size), np.float32))


def train_sleeve_shape(folder, *, out, exclude=None, epochs: int = 30, seed: int = 0, width: int = 32,
                       batch_size: int = 64, lr: float = 2e-3, progress: bool = True) -> dict:
    """Train a :class:`SleeveShape` on the **train** split's photos of the annotated photo set
    ``folder`` (garment masks from ``amgan data annotate``; sleeve labels from the manifest: a
    person's where ``amgan data hand-labels`` put one, else the class's; unknown ones are left out),
    score it on the val split, write it to ``out``. ``exclude``: a label file (``image`` column) of
    photos never trained on (the blind test set)."""
    import kornia.augmentation as K
    from tqdm import tqdm

    from amgan.data.manifest import read_manifest
    from amgan.data.memory import excluded_images

    folder = Path(folder)
    m = read_manifest(folder)
    if "sleeve" not in m.schema.names:
        raise SleeveShapeError(f"{folder}: the schema has no 'sleeve' group")
    if epochs < 1 or batch_size < 2:
        raise SleeveShapeError(f"epochs must be >= 1 and batch_size >= 2, got {epochs}, {batch_size}")
    si, values = m.schema.group_index("sleeve"), tuple(m.schema.group("sleeve").values)
    blind = excluded_images(exclude or "", key="--exclude")
    rows = {s: _photo_rows(m, s, si, blind) for s in ("train", "val")}
    if len(rows["train"]) < batch_size:
        raise SleeveShapeError(f"{folder}: {len(rows['train'])} train-split photos with a garment mask and a known "
                               f"sleeve; at least {batch_size} needed (run amgan data annotate first)")
    t0 = time.perf_counter()
    data = {s: _dataset(folder, m, r, SIZE, progress) for s, r in rows.items()}
    x = {s: torch.from_numpy(v[1])[:, None] for s, v in data.items()}
    y = {s: torch.from_numpy(m.labels[v[0], si]).long() for s, v in data.items()}
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = ShapeNet(len(values), width)
    aug = K.AugmentationSequential(K.RandomHorizontalFlip(),
                                   K.RandomAffine(degrees=12, scale=(0.85, 1.1), translate=(0.06, 0.06), p=0.9))
    per_epoch = len(x["train"]) // batch_size
    opt = torch.optim.AdamW(net.parameters(), lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * per_epoch)
    net.train()
    bar = tqdm(range(epochs), desc="sleeve shape", unit="epoch", disable=not progress)
    for _ in bar:
        perm = torch.randperm(len(x["train"]), generator=gen)
        for b in range(per_epoch):
            idx = perm[b * batch_size:(b + 1) * batch_size]
            loss = F.cross_entropy(net(aug(x["train"][idx])), y["train"][idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model = SleeveShape(values, net.eval(), SIZE, width)
    val = None
    if len(x["val"]):
        pred = model.probs_batch(x["val"][:, 0].numpy()).argmax(1)
        val = {"photos": len(pred), "accuracy": round(float((pred == y["val"].numpy()).mean()), 4)}
    model.provenance = {
        "trained": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": str(folder), "exclude": str(exclude or ""), "train_photos": len(x["train"]),
        "train_counts": {v: int((y["train"] == k).sum()) for k, v in enumerate(values)},
        "epochs": epochs, "seed": seed, "width": width, "batch_size": batch_size, "lr": lr,
        "seconds": round(time.perf_counter() - t0, 1), "val": val}
    model.save(out)
    return {"out": str(out), **model.provenance}


def sleeve_sheet(folder, model, out, *, split: str = "val", n: int = 36, columns: int = 9, tile: int = 180,
                 exclude=None, seed: int = 0) -> dict:
    """A contact sheet of ``n`` photos of ``split`` with a known sleeve, one per contributor first (the
    order depends only on ``seed`` and the names): each photo with its garment mask's outline (green:
    read right, red: wrong), the silhouette the model sees in a corner, the sleeve read with its
    probability and the label. Written as JPEG or PNG (by ``out``'s suffix), atomically; returns
    {"out", "photos", "right"}."""
    from PIL import Image, ImageDraw, ImageFont

    from amgan.data.annotate_sheet import _outline, read_sources, round_robin
    from amgan.data.manifest import read_manifest
    from amgan.data.memory import excluded_images
    from amgan.io import atomic_save_image

    folder = Path(folder)
    m = read_manifest(folder)
    ss = model if isinstance(model, SleeveShape) else SleeveShape.load(model)
    si, values = m.schema.group_index("sleeve"), tuple(m.schema.group("sleeve").values)
    blind = excluded_images(exclude or "", key="--exclude")
    sender, _ = read_sources(folder)
    row = {m.paths[i]: i for i in _photo_rows(m, split, si, blind)}
    rows = [row[p] for p in round_robin(row, sender, n, seed)]
    if not rows:
        raise SleeveShapeError(f"{folder}: no {split}-split photo with a garment mask and a known sleeve")
    th, text_h = int(tile * 4 / 3), 40
    sheet = Image.new("RGB", (columns * tile, -(-len(rows) // columns) * (th + text_h)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font, small = ImageFont.load_default(size=15), ImageFont.load_default(size=12)
    right = 0
    for k, i in enumerate(rows):
        x0, y0 = (k % columns) * tile, (k // columns) * (th + text_h)
        with Image.open(m.image_path(i)) as im:
            rgb = np.asarray(im.convert("RGB")).copy()
        mask = np.asarray(Image.open(m.mask_path(i))) > 0
        p = ss.probs(mask, values)
        label = values[int(m.labels[i, si])]
        read = values[int(p.argmax())] if p is not None else "-"
        ok = read == label
        right += ok
        rgb[_outline(mask, max(2, rgb.shape[1] // 150))] = (0, 200, 0) if ok else (230, 0, 0)
        img = Image.fromarray(rgb)
        img.thumbnail((tile - 4, th - 4))
        px, py = x0 + (tile - img.width) // 2, y0 + (th - img.height) // 2
        sheet.paste(img, (px, py))
        sil = silhouette(mask, ss.size)
        if sil is not None:
            inset = Image.fromarray((sil * 255).astype(np.uint8)).convert("RGB").resize((56, 56))
            sheet.paste(inset, (px + 2, py + 2))
            draw.rectangle([px + 2, py + 2, px + 57, py + 57], outline=(255, 200, 0))
        txt = f"{read} {float(p.max()):.2f}" if p is not None else "no outline"
        draw.text((x0 + 6, y0 + th + 2), txt, fill=(0, 120, 0) if ok else (190, 0, 0), font=font)
        draw.text((x0 + 6, y0 + th + 21), f"label {label}  #{sender.get(m.paths[i], '')}", fill=(80, 80, 80),
                  font=small)
    out = Path(out)
    atomic_save_image(out, sheet, format="JPEG" if out.suffix.lower() in (".jpg", ".jpeg") else "PNG")
    return {"out": str(out), "photos": len(rows), "right": int(right)}
