# Two commands matter: `make demo` (the main job on the shipped model) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: venv test test-slow demo bench data photos sheet train-cpu palette-table clean

venv: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*; touch $@

test: venv
	$(BIN)/python -m pytest -q

test-slow: venv
	$(BIN)/python -m pytest -q -m slow

data: venv
	test -f data/synth64/manifest.csv || $(BIN)/amgan data synth --out data/synth64 --products 3000 --seed 0 --size 64 --street-views 2 --with-edits

# the real photos (public clothing-dataset, CC0): convert + annotate into data/clothing, then the hand labels
CLOTHING ?= ../shared/data/clothing-dataset
HAND_LABELS = amgan/data/labels/clothing_dev.csv amgan/data/labels/clothing_hand.csv amgan/data/labels/clothing_neckline.csv

photos: venv
	test -f data/clothing/annotations.csv || ( $(BIN)/amgan data convert clothing_dataset --root $(CLOTHING) --out data/clothing --overwrite \
	    && $(BIN)/amgan data annotate data/clothing --workers 2 )
	$(BIN)/amgan data hand-labels data/clothing --labels $(HAND_LABELS) --exclude amgan/data/labels/clothing_checked.csv

# the colour annotator's nearest-anchor table (amgan/data/palette_anchors.npz): after a change to its PALETTE
palette-table: venv
	$(BIN)/python -c "from amgan.data.annotate import write_anchor_table; print(write_anchor_table())"

sheet: venv
	$(BIN)/amgan data sheet data/synth64 --out docs/synth64_sheet.png --n 24
	$(BIN)/amgan data sheet data/synth64 --edits --out docs/synth64_edits.png

train-cpu: venv
	$(BIN)/amgan train-classifier --config configs/synth64.yaml
	$(BIN)/amgan train --config configs/synth64.yaml

bench: venv
	mkdir -p bench/out
	$(BIN)/python bench/bench_synth.py --out bench/out/synth.json
	$(BIN)/python bench/bench_amgan.py --out bench/out/amgan.json
	$(BIN)/python bench/bench_index.py --out bench/out/index.json
	$(BIN)/python bench/bench_flam.py --out bench/out/flam.json
	$(BIN)/python bench/bench_reader.py --out bench/out/reader.json
	$(BIN)/python bench/bench_photo_edit.py --out bench/out/photo_edit.json
	test ! -f data/clothing/manifest.csv || $(BIN)/python bench/bench_photo_search.py --out bench/out/photo_search.json

# the demo searches the real photos when they can be made (the public clothing data set at $(CLOTHING)), else SynthFashion
demo: venv
	test -f data/clothing/manifest.csv || ! test -f $(CLOTHING)/images.csv || $(MAKE) photos
	GRADIO_ANALYTICS_ENABLED=False $(BIN)/python -m demo.app

clean:
	rm -rf runs/test_tiny data/test_tiny bench/out .pytest_cache
