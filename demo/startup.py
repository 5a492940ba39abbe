"""Getting the demo ready: the data set, the models, the gallery index, the examples, the port.

Nothing here runs at import time; :func:`load_parts` does it all for ``python -m demo.app``.
"""
from __future__ import annotations

import errno
import logging
import socket
from pathlib import Path

from amgan.errors import UserError

__all__ = ["DEFAULTS", "SYNTH_DEFAULT", "ensure_synth_data", "load_retriever", "example_images", "port_problem",
           "load_parts", "resolve_catalogue", "catalogue_rows"]

log = logging.getLogger("demo")

DEFAULTS = {"editor": "checkpoints/amgan_photo128", "embedder": "checkpoints/fir_garment128",
            "flam": "checkpoints/flam_garment128", "data": "auto", "index": "auto"}
SYNTH_DEFAULT = {"products": 3000, "seed": 0, "size": 64, "street_views": 2, "with_edits": True}  # = `make data`
# the catalogue "auto" picks: the real photos when `make photos` made them, else SynthFashion (made when missing)
PHOTO_CATALOGUE, SYNTH_CATALOGUE = "data/clothing", "data/synth64"
INDEX_FOR = {PHOTO_CATALOGUE: "runs/demo_gallery_photos", SYNTH_CATALOGUE: "runs/demo_gallery"}
PHOTO_VIEW = "photo"
EXAMPLES_LABEL = {False: "Examples: real photos (CC0, test-split contributors), then SynthFashion street photos and "
                         "a catalogue shot",  # above the examples: with the SynthFashion catalogue / the photos
                  True: "Examples: real photos (CC0, test-split contributors)"}


def resolve_catalogue(data: str | Path, index: str | Path) -> tuple[Path, Path]:
    """The catalogue's data set and index folders: ``data`` "auto" is :data:`PHOTO_CATALOGUE` when it holds a
    manifest (``make photos``), else :data:`SYNTH_CATALOGUE`; ``index`` "auto" is that catalogue's own folder
    (:data:`INDEX_FOR`; for another data set, ``runs/demo_gallery_<folder name>``)."""
    if str(data) == "auto":
        data = PHOTO_CATALOGUE if (Path(PHOTO_CATALOGUE) / "manifest.csv").is_file() else SYNTH_CATALOGUE
    if str(index) == "auto":
        index = INDEX_FOR.get(str(data), f"runs/demo_gallery_{Path(data).name}")
    return Path(data), Path(index)


def catalogue_rows(data: str | Path) -> tuple[str | None, str | None]:
    """(split, view) of the rows a data set's catalogue holds: every photo of a photo set (its rows of view
    :data:`PHOTO_VIEW`, all splits: a shop's catalogue, not an evaluation), else the test split's shop views."""
    from amgan.data.manifest import read_manifest

    m = read_manifest(Path(data) / "manifest.csv", check_files=False)
    return (None, PHOTO_VIEW) if PHOTO_VIEW in set(m.views) else ("test", "shop")


def port_problem(host: str, port: int) -> str | None:
    """None when ``host:port`` can be served on; else a one-line reason that names ``--port``.

    Binds the way the server does (SO_REUSEADDR, so a port left in TIME_WAIT by a demo that just
    stopped counts as free); checked before the models load, so a taken port fails in a second.
    """
    if not 0 < int(port) < 65536:
        return f"port {port} is not a TCP port (1-65535); choose another with --port"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        return f"cannot serve on host {host!r} ({e.strerror}); choose another with --host"
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            taken = e.errno in (errno.EADDRINUSE, 48, 10048)  # Linux, macOS, Windows
            why = "is already in use (another demo?)" if taken else f"cannot be used ({e.strerror})"
            return f"port {port} on {host} {why}; choose another with --port, e.g. --port {int(port) + 1}"
    return None


def ensure_synth_data(root: str | Path) -> Path:
    """``root`` when it holds a manifest; else render SynthFashion there like ``make data``."""
    root = Path(root)
    if (root / "manifest.csv").is_file():
        return root
    if root.exists() and any(root.iterdir()):
        raise UserError(f"{root} exists but has no manifest.csv; point --data at a data set folder")
    from amgan.data.synth_dataset import generate

    log.info("making the SynthFashion data set in %s (%s)", root, SYNTH_DEFAULT)
    generate(root, SYNTH_DEFAULT["products"], seed=SYNTH_DEFAULT["seed"], size=SYNTH_DEFAULT["size"],
             street_views=SYNTH_DEFAULT["street_views"], with_edits=SYNTH_DEFAULT["with_edits"])
    return root


def load_retriever(embedder, index_dir, data, flam=None, progress: bool = True, split: str | None = "test",
                   view: str | None = "shop"):
    """-> (Retriever or None, notes, search_off reason, flam_off reason).

    Builds the gallery index (the rows of ``split`` and ``view``; None: all) when it is missing,
    unreadable, was built by another embedder, or holds other items than those rows of ``data`` today
    (another data set, or labels changed since). FLAM is attached when its checkpoint exists and
    matches the embedder; a FLAM checkpoint that cannot be used (a UserError) only turns FLAM off.
    """
    from amgan.pretrained import model_id
    from fir.cli import build_index
    from fir.index import IndexFileError, IndexMismatchError
    from fir.retriever import Retriever

    notes, search_off, flam_off = [], "", ""
    if not embedder or not Path(embedder).exists():
        search_off = f"no embedder checkpoint at {embedder} (train one with `fir train`)"
        return None, [f"Catalogue search is off: {search_off}. Editing works."], search_off, "search is off"
    try:
        retriever = Retriever.from_paths(embedder, index_dir)
        why = _stale_items(retriever.index.metadata, data, split, view)
    except (FileNotFoundError, IndexFileError, IndexMismatchError) as e:  # missing, unreadable, another model's
        retriever, why = None, str(e)
    if why:
        log.info("building the gallery index in %s: %s", index_dir, why)
        build_index(embedder, data, index_dir, split=split, view=view, progress=progress)
        retriever = Retriever.from_paths(embedder, index_dir)
    if not flam or str(flam).lower() == "none":
        flam_off = "disabled with --flam none"
    elif not Path(flam).exists():
        flam_off = f"no FLAM checkpoint at {flam} (train one with `fir train-flam`)"
    else:
        from fir.flam import load_flam

        try:
            retriever.flam = load_flam(flam, expect_embedder_id=model_id(embedder))
        except UserError as e:
            flam_off = f"{flam} cannot be used: {e}"
    if flam_off:
        notes.append(f"FLAM (feature-level edits) is off: {flam_off}. AMGAN editing and search work.")
    return retriever, notes, search_off, flam_off


def _stale_items(items: list[dict], data, split: str | None, view: str | None) -> str:
    """Why an index's items are not the rows ``split``/``view`` of the data set ``data`` with today's
    labels (their paths and attributes, in order), or "" when they are."""
    from fir.cli import index_items

    want = [(m["path"], m["attributes"]) for m in index_items(data, split, view, check_files=False)[1]]
    have = [(str(it.get("path")), dict(it.get("attributes") or {})) for it in items]
    if len(want) != len(have):
        return f"it holds {len(have)} items, the catalogue of {data} has {len(want)}"
    if want != have:
        return f"its items are not those of {data} today (other images, or labels changed since)"
    return ""


PHOTO_EXAMPLES = Path(__file__).parent / "examples"  # real CC0 phone photos (see its README.md)


def photo_examples() -> list[str]:
    """The real example photos shipped with the demo (CC0), sorted by name."""
    return sorted(str(p) for p in PHOTO_EXAMPLES.glob("*.jpg"))


def example_images(data, n_street: int = 4, n_shop: int = 2) -> list[str]:
    """Test-split images with distinct colours: ``n_street`` street photos, then ``n_shop`` shop shots."""
    from amgan.data.manifest import read_manifest

    m = read_manifest(Path(data) / "manifest.csv", check_files=False)
    color = m.schema.group_index("color") if "color" in m.schema.names else 0
    out, products = [], set()
    for view, n in (("street", n_street), ("shop", n_shop)):
        colors: set[int] = set()
        for i in m.indices("test", view):
            c = int(m.labels[i][color])
            if len(colors) < n and c not in colors and m.product_ids[i] not in products:
                colors.add(c)
                products.add(m.product_ids[i])
                out.append(str(m.image_path(i)))
    return out


def load_parts(editor: str, embedder: str, flam: str, data: str, index: str) -> dict:
    """Everything :func:`demo.layout.build_demo` takes, from paths: ``{"editor", "retriever",
    "examples", "notes", "search_off", "flam_off"}``. Mistakes (a missing checkpoint, a folder
    that is not a data set) raise UserError."""
    from amgan.editor import Editor

    data, index = resolve_catalogue(data, index)
    data = ensure_synth_data(data)
    ed = Editor.from_checkpoint(editor)
    split, view = catalogue_rows(data)
    retriever, notes, search_off, flam_off = load_retriever(embedder, index, data, flam, split=split, view=view)
    examples = photo_examples() + example_images(data, n_street=3, n_shop=1)  # real photos first
    label = EXAMPLES_LABEL[view == PHOTO_VIEW]
    if retriever is not None:
        what = (f"{retriever.index.count} real photos (`{data}`: every photo, CC0)" if view == PHOTO_VIEW else
                f"{retriever.index.count} SynthFashion catalogue shots (`{data}`, test split)")
        notes = [f"The catalogue searched: {what}."] + notes
    return {"editor": ed, "retriever": retriever, "examples": examples, "examples_label": label, "notes": notes,
            "search_off": search_off, "flam_off": flam_off}
