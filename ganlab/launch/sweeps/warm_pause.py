"""Imported by the sweep's warm process only, before anything else it preloads: the
garbage collector stays off while it imports torch, MLflow and the rest, and each job
forked from it turns it back on (with all it inherited frozen) when its run is about to
train. Why, and what it costs: ganlab.core.collection.
"""

from __future__ import annotations

from ganlab.core import collection

collection.pause()
