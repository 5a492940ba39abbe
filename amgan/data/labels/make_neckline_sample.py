"""The photos whose neckline a person labels, and the contact sheets they are labelled on.

Usage: python make_neckline_sample.py DATA/clothing SHEETS_DIR [--train N]

Why: the only photo classes that say a neckline are Polo and Shirt (collar), so without a person's
labels every known photo neckline is "collar" and a reader trained on them reads "collar" on every
photo. Drawn (deterministic, standard library + Pillow):

- ``val`` and ``test``: every photo of the split (the reader is chosen on val, measured on test),
- ``train``: N photos (default 300) whose class is not Polo or Shirt (those are collars by class),
  senders shuffled with seed 2, one photo per sender, then a second, up to four (the blind set's rule, which stops at two),

none of them a photo of the blind test set (``clothing_checked.csv``: never labelled here, so its
photos stay untouched by anything trained). Writes ``SHEETS_DIR/<part>/sheet_NN.png`` (12 photos
each, 4 x 3, every photo 390 x 520 px, its cell number in the corner) and ``SHEETS_DIR/<part>/index.csv``
(``sheet, cell, image, sender_id, label``).
"""
import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_handcheck_sample import pick  # noqa: E402

HERE = Path(__file__).resolve().parent
COLS, ROWS, CW, CH = 4, 3, 390, 520
SEED = 2
BY_CLASS = {"Polo", "Shirt"}
PER_SENDER = 4


def sample(data: Path, n_train: int) -> dict[str, list[dict]]:
    with open(data / "manifest.csv", newline="") as f:
        split = {r["product_id"]: r["split"] for r in csv.DictReader(f)}
    with open(HERE / "clothing_checked.csv", newline="") as f:
        blind = {r["image"] for r in csv.DictReader(f)}
    with open(data / "source.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["image"] in split and r["image"] not in blind]
    parts = {s: sorted((r for r in rows if split[r["image"]] == s), key=lambda r: r["image"]) for s in ("val", "test")}
    train = [r for r in rows if split[r["image"]] == "train" and r["label"] not in BY_CLASS]
    parts["train"] = pick(train, n_train, SEED, PER_SENDER)
    return parts


def sheets(data: Path, rows: list[dict], out: Path) -> None:
    from PIL import Image, ImageDraw

    out.mkdir(parents=True, exist_ok=True)
    per = COLS * ROWS
    with open(out / "index.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sheet", "cell", "image", "sender_id", "label"])
        for s in range(0, len(rows), per):
            sheet = Image.new("RGB", (COLS * CW, ROWS * CH), "white")
            d = ImageDraw.Draw(sheet)
            for c, r in enumerate(rows[s:s + per]):
                im = Image.open(data / "images" / f"{r['image']}.jpg").convert("RGB")
                im.thumbnail((CW - 6, CH - 6))
                x, y = (c % COLS) * CW, (c // COLS) * CH
                sheet.paste(im, (x + 3, y + 3))
                d.rectangle((x + 3, y + 3, x + 40, y + 25), fill="black")
                d.text((x + 8, y + 7), str(c), fill="yellow")
                w.writerow([s // per, c, r["image"], r["sender_id"], r["label"]])
            sheet.save(out / f"sheet_{s // per:02d}.png")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--train", type=int, default=300)
    a = p.parse_args()
    for part, rows in sample(a.data, a.train).items():
        sheets(a.data, rows, a.out / part)
        print(f"{part}: {len(rows)} photos, {len({r['sender_id'] for r in rows})} senders -> {a.out / part}")


if __name__ == "__main__":
    main()
