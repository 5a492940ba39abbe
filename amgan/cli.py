"""The ``amgan`` command line. Thin: every command calls a library function.

    amgan data synth --out DIR --products N --seed S --size PX [--street-views K] [--with-edits] [--overwrite]
    amgan data sheet DIR --out sheet.png [--edits]
    amgan data convert FORMAT --root DIR --out DIR
    amgan data annotate DIR [--overwrite-labels] [--workers N] [--sheet OUT.png] [--namer FILE|rule]
    amgan data train-namer DIR --labels FILE [FILE ...] --out NAMER.json [--exclude BLIND.csv]
    amgan data train-sleeve-shape DIR --out SLEEVE.pt [--exclude BLIND.csv] [--epochs N] [--seed S] [--sheet OUT.jpg]
    amgan data annotate-eval DIR --checked FILE
    amgan data hand-labels DIR --labels FILE [FILE ...] [--exclude BLIND.csv]
    amgan train-classifier --config C [--set k=v ...]
    amgan train --config C [--set k=v ...] [--resume [--allow-config-change]]
    amgan edit --checkpoint C --image IN --edit color=red [--region sleeves] [--source sleeve=short] --out OUT.png
    amgan export --editor runs/x/editor.pt --out checkpoints/NAME [--check-data DIR]
    amgan evaluate-edits --editor C [--data DIR] [--photos DIR] --out DIR [--limit N]

Mistakes a user can fix (:class:`amgan.errors.UserError`) print one line ``amgan: error: ...``
and return 2; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from amgan import __version__
from amgan.config import add_config_arguments, config_argv
from amgan.errors import UserError, run_cli
from amgan.pattern import PATTERN_METHODS
from amgan.reshape import SLEEVE_METHODS
from amgan.training.run import add_run_arguments


def _data_synth(args) -> int:
    from amgan.data.synth_dataset import generate

    summary = generate(args.out, args.products, seed=args.seed, size=args.size, street_views=args.street_views,
                       with_edits=args.with_edits, workers=args.workers, progress=not args.quiet,
                       overwrite=args.overwrite)
    print(json.dumps(summary))
    return 0


def _data_sheet(args) -> int:
    from amgan.data.sheet import contact_sheet, edits_sheet

    path = edits_sheet(args.dir, args.out) if args.edits else contact_sheet(args.dir, args.out, n=args.n)
    print(path)
    return 0


def _data_convert(args) -> int:
    from amgan.data.converters import convert
    from amgan.data.manifest import read_manifest
    from amgan.errors import UserError

    opts = {}
    if args.format != "folder_csv" and (args.csv or args.schema):
        raise UserError(f"--csv and --schema are options of folder_csv, not of {args.format}")
    if args.csv:
        opts["csv"] = args.csv
    if args.schema:
        opts["schema"] = args.schema
    if args.overwrite:
        opts["overwrite"] = True
    out = convert(args.format, args.root, args.out, progress=not args.quiet, **opts)
    unknown = read_manifest(out, check_files=False).unknown_summary()
    if unknown:
        print(f"amgan: note: unknown attribute values (empty cells): {unknown}", file=sys.stderr)
    print(out)
    return 0


def _train_classifier(args) -> int:
    from amgan.train_classifier import main as tc_main

    return tc_main(config_argv(args, "seed", "out"))


def _train(args) -> int:
    from amgan.train import main as train_main

    return train_main(config_argv(args, "resume", "resume-from", "allow-config-change"))


def _train_reader(args) -> int:
    from amgan.train_reader import main as reader_main

    return reader_main(config_argv(args, "out", "refit-head", "init", "l2", "sample"))


def _distill(args) -> int:
    from amgan.distill import main as distill_main

    return distill_main(config_argv(args, "teacher", "out"))


def _edit(args) -> int:
    from amgan.edit_cli import run_edit

    return run_edit(args)


def _export(args) -> int:
    from amgan.export import export_editor

    print(json.dumps(export_editor(args.editor, args.out, check_data=args.check_data, tolerance=args.tolerance)))
    return 0


def _quantize(args) -> int:
    from amgan.export import quantize_editor

    print(json.dumps(quantize_editor(args.editor, args.photos, split=args.split, n=args.n, n_check=args.check,
                                     requests=args.requests, tolerance=args.tolerance, seed=args.seed,
                                     progress=not args.quiet)))
    return 0


def _calibrate_colours(args) -> int:
    from amgan.colour_calibration import fit_colour_calibration, write_calibration
    from amgan.edit_cli import device_or_error
    from amgan.editor import Editor

    if not (Path(args.editor) / "config.json").is_file():
        raise UserError(f"--editor {args.editor}: give a model folder (config.json + weights.pt); the offsets are "
                        "written into its config.json")
    ed = Editor.from_checkpoint(args.editor, device=device_or_error(args.device))
    res = fit_colour_calibration(ed, args.photos, split=args.split, n_photos=args.n, targets=args.targets,
                                 min_refs=args.min_refs, min_edits=args.min_edits, strength=args.strength,
                                 seed=args.seed, progress=not args.quiet)
    res["written"] = None if args.dry_run else str(write_calibration(args.editor, res["colour_calibration"]))
    print(json.dumps(res))
    return 0


def _evaluate_edits(args) -> int:
    from amgan.evaluate_edits import run

    res = run(args)
    print(f"{args.out}/report.md ({res['seconds']} s)")
    return 0


def _data_annotate(args) -> int:
    from amgan.data.annotate import annotate

    namer = None if args.namer == "rule" else args.namer
    summary = annotate(args.dir, overwrite_labels=args.overwrite_labels, workers=args.workers,
                       progress=not args.quiet, namer=namer)
    if args.sheet:
        from amgan.data.annotate_sheet import annotation_sheet

        summary["sheet"] = str(annotation_sheet(args.dir, args.sheet))
    print(json.dumps(summary))
    return 0


def _data_annotate_eval(args) -> int:
    from amgan.data.annotate_eval import evaluate_annotator

    print(json.dumps(evaluate_annotator(args.dir, args.checked)))
    return 0


def _data_train_namer(args) -> int:
    from amgan.data.colour_namer import train_namer

    print(json.dumps(train_namer(args.dir, args.labels, out=args.out, exclude=args.exclude, l2=args.l2,
                                 alt_weight=args.alt_weight, min_confidence=args.min_confidence,
                                 workers=args.workers, progress=not args.quiet)))
    return 0


def _data_train_sleeve_shape(args) -> int:
    from amgan.data.sleeve_shape import train_sleeve_shape

    from amgan.data.sleeve_shape import sleeve_sheet

    if args.sheet_only:
        print(json.dumps(sleeve_sheet(args.dir, args.out, args.sheet_only, exclude=args.exclude)))
        return 0
    summary = train_sleeve_shape(args.dir, out=args.out, exclude=args.exclude, epochs=args.epochs, seed=args.seed,
                                 progress=not args.quiet)
    if args.sheet:
        summary["sheet"] = sleeve_sheet(args.dir, args.out, args.sheet, exclude=args.exclude)
    print(json.dumps(summary))
    return 0


def _data_hand_labels(args) -> int:
    from amgan.data.hand_labels import apply_hand_labels

    print(json.dumps(apply_hand_labels(args.dir, args.labels, exclude=args.exclude)))
    return 0


def _shipped_namer() -> Path:
    """:data:`amgan.data.colour_namer.DEFAULT_NAMER` (without importing numpy to build the parser),
    relative to the working directory when inside it."""
    f = Path(__file__).resolve().parent / "data" / "labels" / "colour_namer.json"
    return f.relative_to(Path.cwd()) if f.is_relative_to(Path.cwd()) else f


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="amgan", description="AMGAN fashion attribute editing",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--version", action="version", version=f"amgan {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)

    fmt = argparse.ArgumentDefaultsHelpFormatter
    data = sub.add_parser("data", help="make, view and convert data sets").add_subparsers(dest="data_cmd", required=True)
    s = data.add_parser("synth", help="render a SynthFashion data set", formatter_class=fmt)
    s.add_argument("--out", required=True, help="data set folder to write")
    s.add_argument("--products", type=int, default=3000, help="products (each: a shop view + street views)")
    s.add_argument("--seed", type=int, default=0, help="the whole set is a function of the seed")
    s.add_argument("--size", type=int, default=64, help="image side in pixels")
    s.add_argument("--street-views", type=int, default=2, help="street (consumer) photos per product")
    s.add_argument("--with-edits", action="store_true", help="also render ground-truth edits of the test split")
    s.add_argument("--workers", type=int, default=None, help="render processes (None: up to 2)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--overwrite", action="store_true", help="render into --out even if it holds a data set")
    s.set_defaults(fn=_data_synth)

    s = data.add_parser("sheet", help="contact sheet of a data set", formatter_class=fmt)
    s.add_argument("dir", help="a data set folder")
    s.add_argument("--out", required=True, help="the PNG to write")
    s.add_argument("--n", type=int, default=36, help="products shown")
    s.add_argument("--edits", action="store_true", help="sheet of ground-truth edits instead")
    s.set_defaults(fn=_data_sheet)

    s = data.add_parser("convert", help="convert a real data set to a manifest", formatter_class=fmt)
    s.add_argument("format", help="deepfashion_category, deepfashion_synthesis, deepfashion_inshop, shopping100k, "
                                  "folder_csv or clothing_dataset")
    s.add_argument("--root", required=True, help="the data set in its own layout (read only)")
    s.add_argument("--out", required=True, help="the manifest folder to write")
    s.add_argument("--csv", help="folder_csv: the CSV file")
    s.add_argument("--schema", help="folder_csv: a schema.json to validate against")
    s.add_argument("--overwrite", action="store_true", help="replace an existing, non-empty --out")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(fn=_data_convert)

    s = data.add_parser("annotate", help="garment masks and colour labels for the photos of a data set",
                        formatter_class=fmt)
    s.add_argument("dir", help="a photo data set (amgan data convert clothing_dataset)")
    s.add_argument("--overwrite-labels", action="store_true",
                   help="replace every colour cell, not only the unknown (empty) ones")
    s.add_argument("--workers", type=int, default=None, help="processes (None: up to 2)")
    s.add_argument("--sheet", help="also write a contact sheet of 48 annotated photos here (.png or .jpg)")
    s.add_argument("--namer", default=str(_shipped_namer()),
                   help="colour namer file (amgan data train-namer), or 'rule' for the palette rule alone")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=_data_annotate)

    s = data.add_parser("train-namer", help="fit the colour namer to colours people wrote down (train split)",
                        formatter_class=fmt)
    s.add_argument("dir", help="an annotated photo set (amgan data annotate: garment masks)")
    s.add_argument("--labels", nargs="+", required=True, help="label files: image, color[, color_alt]")
    s.add_argument("--exclude", help="the blind test set's label file: none of its photos may be in --labels")
    s.add_argument("--out", required=True, help="the namer file to write (.json)")
    s.add_argument("--l2", type=float, default=1e-2, help="L2 penalty on the weights")
    s.add_argument("--alt-weight", type=float, default=0.25, help="target mass given to a photo's second name")
    s.add_argument("--min-confidence", type=float, default=0.4,
                   help="a photo whose best colour has a lower probability is named unknown")
    s.add_argument("--workers", type=int, default=None, help="processes (None: up to 2)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=_data_train_namer)

    s = data.add_parser("train-sleeve-shape", help="train the sleeve reader that sees only the garment's outline "
                        "(train split)", formatter_class=fmt)
    s.add_argument("dir", help="an annotated photo set (amgan data annotate: garment masks; hand-labels applied)")
    s.add_argument("--out", required=True, help="the model file to write (.pt)")
    s.add_argument("--exclude", default="amgan/data/labels/clothing_checked.csv",
                   help="photos never trained on: a CSV with an 'image' column ('' for none)")
    s.add_argument("--epochs", type=int, default=30, help="passes over the train photos")
    s.add_argument("--seed", type=int, default=0, help="initialisation, batches and augmentation")
    s.add_argument("--sheet", help="also draw a contact sheet of val photos read by the model (.jpg or .png)")
    s.add_argument("--sheet-only", metavar="SHEET", help="do not train: draw the sheet of the model --out")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=_data_train_sleeve_shape)

    s = data.add_parser("annotate-eval", help="the colour annotator's accuracy against hand-checked labels",
                        formatter_class=fmt)
    s.add_argument("dir", help="an annotated photo set (annotations.csv, source.csv)")
    s.add_argument("--checked", required=True, help="hand-checked labels: image, color, color_alt")
    s.set_defaults(fn=_data_annotate_eval)

    s = data.add_parser("hand-labels", help="put labels a person wrote down into a photo data set (after annotate)",
                        formatter_class=fmt)
    s.add_argument("dir", help="a photo data set (amgan data convert clothing_dataset + annotate)")
    s.add_argument("--labels", nargs="+", required=True, help="label files: image, color, sleeve[, pattern]")
    s.add_argument("--exclude", help="a blind test-set label file: its photos must not get labels here")
    s.set_defaults(fn=_data_hand_labels)

    for name, fn, help_ in (("train-classifier", _train_classifier, "train the CAM attribute classifier"),
                            ("train", _train, "train AMGAN")):
        s = sub.add_parser(name, help=help_, formatter_class=fmt)
        add_config_arguments(s, "configs/synth64.yaml")
        if name == "train-classifier":
            s.add_argument("--out", help="checkpoint path (None: classifier.checkpoint of the config)")
            s.add_argument("--seed", type=int, default=0, help="another seed gives an independent evaluator")
        if name == "train":
            add_run_arguments(s, resume_from=True)
        s.set_defaults(fn=fn)

    s = sub.add_parser("export", help="ship an editor: a model folder with fp16 weights, checked against fp32",
                       formatter_class=fmt)
    s.add_argument("--editor", required=True, help="editor.pt of a run (or a model folder)")
    s.add_argument("--out", required=True, help="model folder to write")
    s.add_argument("--check-data", help="data set folder whose test shop images are used for the check")
    s.add_argument("--tolerance", type=float, default=1 / 255, help="largest mean abs difference of edits allowed")
    s.set_defaults(fn=_export)

    s = sub.add_parser("quantize", help="an int8 generator for the CPU: calibrate on photos, check against float, "
                                        "write int8.pt into the model folder", formatter_class=fmt)
    s.add_argument("--editor", required=True, help="the editor's model folder (int8.pt is written there)")
    s.add_argument("--photos", required=True, help="a data set (manifest.csv) whose photos calibrate and check it")
    s.add_argument("--split", default="train", choices=["train", "val", "test"], help="the photos used")
    s.add_argument("--n", type=int, default=64, help="calibration photos")
    s.add_argument("--check", type=int, default=16, help="other photos the int8 edits are checked on")
    s.add_argument("--requests", type=int, default=2, help="random edits per calibration photo")
    s.add_argument("--tolerance", type=float, default=0.02,
                   help="largest mean abs difference (images in [0, 1]) of int8 edits from float ones")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=_quantize)

    s = sub.add_parser("calibrate-colours", help="measure how far the editor's colours are from photos of each colour "
                                                 "name (train photos) and store the offsets in the model folder",
                       formatter_class=fmt)
    s.add_argument("--editor", required=True, help="the editor's model folder (config.json is updated)")
    s.add_argument("--photos", required=True, help="an annotated photo data set (manifest.csv with garment masks)")
    s.add_argument("--split", default="train", choices=["train", "val"], help="the photos measured (never test)")
    s.add_argument("--n", type=int, default=120, help="photos edited")
    s.add_argument("--targets", type=int, default=4, help="colour edits per photo (names rotate)")
    s.add_argument("--min-refs", type=int, default=20, help="fewest labelled photos for a colour to get an offset")
    s.add_argument("--min-edits", type=int, default=10, help="fewest edits for a colour to get an offset")
    s.add_argument("--strength", type=float, default=1.0, help="share of the measured offset stored, in (0, 1]")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    s.add_argument("--dry-run", action="store_true", help="measure and print; write nothing")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=_calibrate_colours)

    s = sub.add_parser("train-reader", help="train the attribute reader for photos (frozen trunk, cached maps)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_config_arguments(s, "configs/reader128.yaml")
    s.add_argument("--out", required=True, help="model folder to write")
    s.add_argument("--refit-head", metavar="GROUP", default=None,
                   help="instead of training: fit GROUP's head again on the adapter of the reader --init, every "
                        "other weight kept (e.g. neckline, once photos have a person's neckline labels)")
    s.add_argument("--init", default=None, help="the reader whose head --refit-head fits again")
    s.add_argument("--l2", type=float, default=None, help="--refit-head: L2 weight on the head (default 1e-3)")
    s.add_argument("--sample", default=None,
                   help="--refit-head: a hand-label file whose photos were drawn at random from those with no label "
                        "of GROUP otherwise; each then stands for its share of them")
    s.set_defaults(fn=_train_reader)

    s = sub.add_parser("distill", help="a smaller, faster generator taught by a trained editor's edits "
                                       "(the rest of the editor folder carried over)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s.add_argument("--teacher", required=True, help="the trained editor's model folder")
    add_config_arguments(s, "configs/distill128.yaml")
    s.add_argument("--out", required=True, help="the student editor's model folder to write")
    s.set_defaults(fn=_distill)

    s = sub.add_parser("evaluate-edits", help="judge an editor's edits by probes: against the truth (SynthFashion) "
                                              "and training-free on photos", formatter_class=fmt)
    from amgan.evaluate_edits import add_arguments as _evaluate_edits_arguments

    _evaluate_edits_arguments(s)
    s.set_defaults(fn=_evaluate_edits)

    s = sub.add_parser("edit", help="edit one image or a manifest of images",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s.add_argument("--checkpoint", required=True, help="the editor (model folder or editor.pt)")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="one image to edit")
    src.add_argument("--manifest", help="edit every row of this manifest (manifest.csv or its folder)")
    s.add_argument("--edit", dest="request", default=None, help='the request: "make it red" or color=red[,sleeve=long]')
    s.add_argument("--set", dest="request_deprecated", default=None, help="deprecated name of --edit")
    s.add_argument("--region", choices=["whole", "sleeves", "torso", "sleeves+torso"], default="whole",
                   help="keep a colour/pattern edit to this region (photos: the sleeves found from the garment's outline; "
                        "without a garment mask, the paper's attention mask)")
    s.add_argument("--source", default=None, help="values you know of the photo, e.g. sleeve=short,pattern=striped "
                                                  "(they replace the classifier's reading)")
    s.add_argument("--out", required=True, help="output image (--image; .png/.jpg/.webp) or folder (--manifest)")
    s.add_argument("--mask-out", help="write the attention mask here (--image)")
    s.add_argument("--keep-background", action=argparse.BooleanOptionalAction, default=True,
                   help="gate colour/pattern edits by the photo's garment mask (GrabCut) so the background keeps its pixels")
    s.add_argument("--sleeve-method", default="outline", choices=SLEEVE_METHODS,
                   help="a sleeve-length edit of a photo: cut back, taken off or drawn longer from the garment's "
                        "outline where it can (outline; else the sleeves are left as they are, with a note saying "
                        "why), the same with the generator's edit where the outline cannot (outline+generator), "
                        "or always the generator's")
    s.add_argument("--pattern-method", default="drawn", choices=PATTERN_METHODS,
                   help="a striped, checked, dotted or floral edit of a photo: drawn on the garment (drawn: its "
                        "shading and prints kept, the floor untouched), or the generator's")
    s.add_argument("--even-colour", dest="colour_spread", type=float, default=None, metavar="S",
                   help="evenness of a whole-garment colour edit in [0, 1]: 1 = one dye over the whole garment, "
                        "0 = the generator's colour where it put it (default: the model's own setting)")
    s.add_argument("--device", default=None, help="cpu or cuda (None: cuda when present)")
    s.add_argument("--int8", action=argparse.BooleanOptionalAction, default=None,
                   help="the generator's body in int8 (the model folder's int8.pt; default: when it has one and the "
                        "device is the CPU)")
    s.set_defaults(fn=_edit)
    return p


def main(argv=None) -> int:
    return run_cli("amgan", build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
