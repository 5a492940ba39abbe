"""Networks of AMGAN (Ak et al., ICCV 2019).

Submodules (imported lazily by the caller; nothing heavy happens at import time):

- ``classifier``: ``AttributeClassifier`` -- the CAM classifier whose class activation maps
  give the attention target a* and whose features give the perceptual loss L_p.
- ``generator``: ``Generator`` -- G(x, c, m) -> (y, z, a), y = a*z + (1-a)*x.
- ``discriminator``: ``PatchDiscriminator`` -- D_I (whole image) and D_C (attribute region).
- ``region``: ``attention_boxes`` / ``crop_boxes`` -- the attribute region fed to D_C.

Conventions: images are float tensors [B, 3, H, W] in [0, 1]; shapes are checked at module
boundaries with :func:`check_shape`.
"""
from __future__ import annotations

from typing import Sequence, Union

Dim = Union[int, str, None]


def traced_if_same(module, inputs: tuple, what: str, freeze: bool = False):
    """``torch.jit.trace(module, inputs)`` (frozen with ``freeze``) when it gives ``module``'s outputs bit for
    bit on ``inputs`` (nested tuples/lists of tensors), else None with a warning naming ``what``: an optional
    speed-up for one input shape, never a change of numbers. Runs without gradients; tracing warnings are quiet."""
    import logging
    import warnings

    import torch

    def flat(o):
        return [t for x in o for t in flat(x)] if isinstance(o, (tuple, list)) else [o]

    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(module.eval(), inputs, check_trace=False)
            if freeze:
                traced = torch.jit.freeze(traced.eval())
            got, want = flat(traced(*inputs)), flat(module(*inputs))
            same = len(got) == len(want) and all(torch.equal(a, b) for a, b in zip(got, want))
    except Exception as e:  # noqa: BLE001 - an optional speed-up: report and run the module itself
        logging.getLogger(__name__).warning("%s could not be traced (%s); it runs untraced", what, e)
        return None
    if not same:
        logging.getLogger(__name__).warning("the traced %s differs from the module; it runs untraced", what)
        return None
    return traced


def check_shape(x, shape: Sequence[Dim], name: str = "tensor") -> dict[str, int]:
    """Assert that ``x`` has the given shape (kornia ``KORNIA_CHECK_SHAPE`` style).

    ``shape`` lists one entry per dimension: an int (must match exactly), a string naming
    a free dimension (every use of the same name in one call must agree, e.g.
    ``["B", 3, "H", "W"]``), or ``None``/``"*"`` (anything). Returns the bound names.

    Raises ``ValueError`` naming the tensor, the expected and the actual shape.
    """
    actual = tuple(getattr(x, "shape", ()))
    expected = "[" + ", ".join("*" if d is None else str(d) for d in shape) + "]"
    if len(actual) != len(shape):
        raise ValueError(f"{name}: expected shape {expected}, got {list(actual)}")
    bound: dict[str, int] = {}
    for i, (want, got) in enumerate(zip(shape, actual)):
        if want is None or want == "*":
            continue
        if isinstance(want, int):
            if got != want:
                raise ValueError(
                    f"{name}: expected shape {expected}, got {list(actual)} (dim {i} should be {want})"
                )
        else:
            if want in bound and bound[want] != got:
                raise ValueError(
                    f"{name}: expected shape {expected}, got {list(actual)} "
                    f"(dim {i} '{want}' is {got} but was {bound[want]})"
                )
            bound[want] = got
    return bound


__all__ = ["check_shape"]
