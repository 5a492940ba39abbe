"""Deterministic sample of real garment photos for the hand-checked *development* labels.

Usage: python make_devcheck_sample.py DATA/clothing/manifest.csv DATA/clothing/source.csv \
           clothing_checked.csv [out.csv]

The development set is the one the colour annotator may be tuned on, so it is drawn apart
from the blind test set (`clothing_checked.csv`): photos of the train and val splits only
(contributors of the test split stay unseen), none of the blind set's photos, seed 1; senders
shuffled, photos of each sender shuffled, one photo per sender first, then a second, stopping
at N=200. Standard library only.
"""
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_handcheck_sample import pick, write  # noqa: E402  (the same picking rule as the blind set's)

N = 200
SEED = 1
PER_SENDER = 2
SPLITS = {"train", "val"}


def sample(manifest, source, blind, n=N, seed=SEED):
    with open(manifest, newline="") as f:
        split = {r["product_id"]: r["split"] for r in csv.DictReader(f)}
    with open(blind, newline="") as f:
        taken = {r["image"] for r in csv.DictReader(f)}
    with open(source, newline="") as f:
        rows = [r for r in csv.DictReader(f)
                if split.get(r["image"]) in SPLITS and r["image"] not in taken]
    return pick(rows, n, seed, PER_SENDER)


def main():
    manifest, source, blind = sys.argv[1:4]
    write(sample(manifest, source, blind), sys.argv[4] if len(sys.argv) > 4 else None)


if __name__ == "__main__":
    main()
