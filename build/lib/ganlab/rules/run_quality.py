"""The quality a run is judged by: hq x coverage on mixtures, minus FID on images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ganlab.rules.timeline import History


def mixture_quality(metrics: Mapping[str, float], n_modes: int) -> float | None:
    """hq_fraction * modes_covered / n_modes: high only when samples are both sharp and
    spread over all modes."""
    if "quality/hq_fraction" not in metrics or "quality/modes_covered" not in metrics:
        return None
    return metrics["quality/hq_fraction"] * metrics["quality/modes_covered"] / n_modes


def n_modes_of(history: History) -> int:
    """Number of modes, read off the per-mode counts the quality monitor logs."""
    for _, metrics in history:
        count = sum(1 for k in metrics if k.startswith("quality/mode_hq_count/"))
        if count:
            return count
    return 1


# Image runs are judged by FID (lower is better), Inception FID first when logged.
FID_PREFIXES = ("quality/fid", "quality/classifier_fid", "quality/domain_fid")


def fid_key(history: History) -> str | None:
    """The FID-family metric an image run logged, by preference."""
    keys = {k for _, metrics in history for k in metrics}
    for prefix in FID_PREFIXES:
        found = sorted(k for k in keys if k.startswith(prefix))
        if found:
            return found[0]
    return None


def quality_series(history: History) -> tuple[list[int], list[float]]:
    """Quality per evaluated epoch >= 1, higher is better: hq_fraction x modes_covered /
    n_modes for mixtures, minus FID for images."""
    n_modes = n_modes_of(history)
    key = None if any("quality/hq_fraction" in m for _, m in history) else fid_key(history)
    epochs, values = [], []
    for epoch, metrics in history:
        q = (
            mixture_quality(metrics, n_modes)
            if key is None
            else (-metrics[key] if key in metrics else None)
        )
        if epoch >= 1 and q is not None:
            epochs.append(epoch)
            values.append(q)
    return epochs, values


CLASS_QUALITY_KEY = "quality/class_quality"


def bounded_quality(history: History) -> tuple[list[int], list[float]]:
    """Quality in [0, 1] per evaluated epoch >= 1: hq_fraction x modes_covered / n_modes on
    mixtures; on images the classifier's counterpart, class_confident x classes_present /
    n_classes (an FID has no scale on which "fitted" or "collapsed" could be fixed once for
    every dataset). Empty when neither was logged."""
    if any("quality/hq_fraction" in m for _, m in history):
        return quality_series(history)
    points = [(e, m[CLASS_QUALITY_KEY]) for e, m in history if e >= 1 and CLASS_QUALITY_KEY in m]
    return [e for e, _ in points], [q for _, q in points]


def epoch_quality(epoch: int, metrics: Mapping[str, float]) -> float | None:
    """One evaluation's quality as a run knows it online, higher is better: the bounded
    quality when the epoch logged it, else minus FID (images evaluated by FID only);
    None when the epoch logged neither."""
    for quality_of in (bounded_quality, quality_series):
        values = quality_of([(epoch, metrics)])[1]
        if values:
            return values[0]
    return None


COVERAGE_KEYS = ("quality/modes_covered", "quality/classes_present")


def covered_modes(history: History, epochs: Sequence[int]) -> list[float] | None:
    """Modes covered (mixtures) or classes present (images) at each of `epochs`, or None
    when the run did not log them at every one of those epochs."""
    by_epoch = dict(history)
    for key in COVERAGE_KEYS:
        values = [by_epoch.get(e, {}).get(key) for e in epochs]
        if values and all(v is not None for v in values):
            return [float(v) for v in values]  # type: ignore[arg-type]
    return None
