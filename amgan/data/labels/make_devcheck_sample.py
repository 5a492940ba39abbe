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
import random
import sys

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
    rows.sort(key=lambda r: r["image"])
    by_sender = {}
    for r in rows:
        by_sender.setdefault(r["sender_id"], []).append(r)
    rng = random.Random(seed)
    senders = sorted(by_sender, key=lambda s: int(s) if s.isdigit() else s)
    rng.shuffle(senders)
    for s in senders:
        rng.shuffle(by_sender[s])
    picked = []
    for k in range(PER_SENDER):
        for s in senders:
            if len(picked) >= n:
                return picked
            if len(by_sender[s]) > k:
                picked.append(by_sender[s][k])
    return picked


def main():
    manifest, source, blind = sys.argv[1:4]
    out = sys.argv[4] if len(sys.argv) > 4 else None
    picked = sample(manifest, source, blind)
    fh = open(out, "w", newline="") if out else sys.stdout
    w = csv.writer(fh)
    w.writerow(["image", "sender_id", "label"])
    for r in picked:
        w.writerow([r["image"], r["sender_id"], r["label"]])
    if out:
        fh.close()
        print(f"{len(picked)} photos, {len({r['sender_id'] for r in picked})} senders -> {out}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
