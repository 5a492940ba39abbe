"""FLAM: feature-level attribute manipulation on the frozen FIR embedding.

After Shin, Park and Kim, "Semi-supervised feature-level attribute manipulation for
fashion image retrieval" (BMVC 2019). "This, but red" is answered without touching
pixels: the query's FIR feature ``f`` is moved to where a red version of the garment
would embed, and the gallery is searched with the moved feature.

Parts (:class:`FlamNet`, :class:`FeatureDiscriminator`):

- **Attribute-specific embedders** ``E_g`` (one MLP per attribute group) map ``f`` to a
  unit vector in a small attribute space; a **learnable attribute dictionary** ``W_g``
  holds one unit prototype per value. A **triplet loss** pulls ``E_g(f)`` to its value's
  prototype and pushes it from the hardest other prototype by a margin
  (:func:`dictionary_triplet_loss`). Attributes are read off as the nearest prototype.
- **Feature generator** ``G(f, c)``: a residual MLP, ``f' = normalize(f + R([f, c]))``,
  conditioned on the dictionary difference ``c = concat_g (W_g[target_g] - W_g[source_g])``
  (zero for the groups that do not change, so "no change" is an all-zero condition).
- **Feature discriminator** ``D(f, y)``: an MLP with a projection head on the attribute
  labels (Miyato & Koyama, 2018), so it judges "a real feature *with these attributes*".
  Trained with the non-saturating logistic loss and an R1 penalty on real features.
- **Losses of G**: adversarial (``softplus(-D(f', t))``), attribute matching (the
  embedders must read the target values off ``f'``: cross-entropy over cosine
  similarities to the dictionary, every group, :func:`attribute_matching_loss`), cycle
  (``G(G(f, s->t), t->s)`` returns to ``f``) and identity (``G(f, s->s) = f``), both as
  ``1 - cos`` (:func:`cosine_distance`).

The FIR embedder stays frozen, and an unedited query is searched with ``f`` itself, so
plain-query retrieval cannot change; ``fir train-flam`` measures it anyway (consumer-to-
shop Recall@K with ``f`` and with ``G(f, s->s)``).

Modules, by job: :mod:`~fir.flam.losses` (pure functions), :mod:`~fir.flam.nets`,
:mod:`~fir.flam.inference` (:class:`FlamModel`, :func:`load_flam`),
:mod:`~fir.flam.features` (the FIR feature cache), :mod:`~fir.flam.calibrate`
(:func:`evaluate_flam`, :func:`calibrate_strength`) and :mod:`~fir.flam.train`
(:func:`train_flam`, ``main``; the run folder is described there).
"""
from fir.flam.calibrate import calibrate_strength, evaluate_flam, single_edit_targets
from fir.flam.features import cached_features
from fir.flam.inference import CHECKPOINT_KIND, FlamMismatchError, FlamModel, load_flam
from fir.flam.losses import (attribute_matching_loss, cosine_distance, d_logistic_loss, dictionary_triplet_loss,
                             g_logistic_loss, r1_penalty)
from fir.flam.nets import FeatureDiscriminator, FlamNet
from fir.flam.train import main, train_flam

# the names fir/flam.py had before it became this package
_features = cached_features
_single_edit_targets = single_edit_targets

__all__ = ["FlamNet", "FeatureDiscriminator", "FlamModel", "FlamMismatchError", "dictionary_triplet_loss",
           "attribute_matching_loss", "cosine_distance", "d_logistic_loss", "g_logistic_loss", "r1_penalty",
           "train_flam", "load_flam", "CHECKPOINT_KIND", "main", "evaluate_flam", "calibrate_strength",
           "cached_features", "single_edit_targets"]
