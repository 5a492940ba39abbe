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
