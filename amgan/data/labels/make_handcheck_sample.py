"""Deterministic sample of real garment photos for the hand-checked colour labels.

Usage: python make_handcheck_sample.py path/to/images.csv [out.csv]

Rule: keep tops and dresses (LABELS below), seed 0; senders shuffled, photos of each
sender shuffled; first pass takes one photo from every sender, second pass a second
photo, stopping at N=240, so at most 2 photos per sender and as many senders as possible.
Standard library only.
"""
import csv
import random
import sys

LABELS = {"T-Shirt", "Longsleeve", "Shirt", "Polo", "Hoodie", "Blouse", "Top",
          "Undershirt", "Body", "Dress", "Outwear", "Blazer"}
N = 240
SEED = 0
PER_SENDER = 2


def sample(csv_path, n=N, seed=SEED):
    with open(csv_path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["label"] in LABELS]
    return pick(rows, n, seed)


def pick(rows, n, seed, per_sender=PER_SENDER):
    """Senders shuffled (seed), each sender's photos shuffled; one photo per sender, then a second, ... up to n."""
    rows = sorted(rows, key=lambda r: r["image"])
    by_sender = {}
    for r in rows:
        by_sender.setdefault(r["sender_id"], []).append(r)
    rng = random.Random(seed)
    senders = sorted(by_sender, key=lambda s: int(s) if s.isdigit() else s)
    rng.shuffle(senders)
    for s in senders:
        rng.shuffle(by_sender[s])
    picked = []
    for k in range(per_sender):
        for s in senders:
            if len(picked) >= n:
                return picked
            if len(by_sender[s]) > k:
                picked.append(by_sender[s][k])
    return picked


def write(picked, out=None):
    """The picked rows as ``image, sender_id, label`` to ``out`` (stdout when None)."""
    fh = open(out, "w", newline="") if out else sys.stdout
    w = csv.writer(fh)
    w.writerow(["image", "sender_id", "label"])
    for r in picked:
        w.writerow([r["image"], r["sender_id"], r["label"]])
    if out:
        fh.close()
        print(f"{len(picked)} photos, {len({r['sender_id'] for r in picked})} senders -> {out}",
              file=sys.stderr)


def main():
    write(sample(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)


if __name__ == "__main__":
    main()
