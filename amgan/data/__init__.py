"""Data: SynthFashion renderer, manifests, converters."""
