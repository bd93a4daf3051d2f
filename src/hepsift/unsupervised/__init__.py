"""Unsupervised learning on the same Dataset, weights and report as the supervised side.

- :mod:`.reduction`: weighted PCA and weighted Fisher LDA as transformers saved as JSON/NPZ.
- :mod:`.clustering`: weighted k-means, DBSCAN and HDBSCAN (scikit-learn), the number of
  clusters chosen by the silhouette score (elbow curve reported too), purity tables (adjusted
  Rand index, weighted per-cluster class fractions).
- :mod:`.injection`: background plus a signal injected at a chosen fraction; the method never
  sees the labels, which only score it (ROC, SIC, efficiency at a background efficiency).
- :mod:`.cwola`: classification without labels (signal region vs sidebands, k-folded) and the
  bump hunt (smooth background fit to the sidebands, local significance of the excess).

The anomaly-detector families (``isolation-forest``, ``autoencoder``, ``gmm``) live with the
other families in :mod:`hepsift.models.anomaly`.
"""

from __future__ import annotations

__all__: list[str] = []
