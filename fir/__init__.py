"""FIR: fashion image retrieval on top of AMGAN.

Modules (import them directly; nothing heavy loads at ``import fir``):

- ``fir.index``: :class:`fir.index.GalleryIndex`, a faiss gallery index over
  L2-normalised embeddings with int64 ids and per-item metadata, saved to and loaded
  from a folder, refusing queries from a different embedding model.
- ``fir.metrics``: plain numpy retrieval and editing metrics (Recall@K, top-k
  attribute-match accuracy, attribute accuracy and preservation, masked change, IoU,
  PSNR, SSIM).
"""
