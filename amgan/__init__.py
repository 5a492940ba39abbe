"""AMGAN: attribute manipulation GAN for fashion images (Ak et al., ICCV 2019).

Heavy modules load lazily: ``import amgan`` is cheap; ``amgan.Editor`` imports torch.
"""
from amgan.attributes import SYNTH_SCHEMA, Group, Schema, SchemaError

__all__ = ["Schema", "Group", "SchemaError", "SYNTH_SCHEMA", "Editor"]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "Editor":
        from amgan.editor import Editor

        return Editor
    raise AttributeError(f"module 'amgan' has no attribute {name!r}")
