"""Data: SynthFashion renderer, manifests, converters.

- :mod:`.manifest`: reading, writing and validating a data set folder (re-exports the rest).
- :mod:`.manifest_rows`: the columns and the per-row checks; ``-1`` is an unknown value.
- :mod:`.dataset`: ``ManifestDataset`` (torch). :mod:`.references`: ``pairs_by_product``, ``ReferenceIndex``.
- :mod:`.paths`: names from data files stay inside their folder. :mod:`.csvio`: one-line CSV failures.
- :mod:`.converters`: published data sets -> manifest folders, one module per format.
- :mod:`.synth`, :mod:`.synth_dataset`: the SynthFashion renderer and writer.
"""
