"""Analyse many files at once: the hand-made features and the tagger's outputs side by side.

One table per batch (index: the ids given): the feature columns of
:mod:`moodtune.audio.features` then, when ``audio.tagger.enabled``, the 500 tagger columns of
:mod:`moodtune.audio.musicnn.tagger`. Both parts are cached by file content; a file either part
cannot read is left out and listed in ``failed`` with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from moodtune.audio.features import FeatureConfig, extract_batch, release_workers


@dataclass
class Analysis:
    features: pd.DataFrame
    failed: dict[str, str]
    stats: dict[str, float] = field(default_factory=dict)

    def metadata(self) -> dict[str, float]:
        return {"clips": len(self.features), "columns": self.features.shape[1], "failed_count": len(self.failed),
                **self.stats}


def analyse(settings, items: Mapping[str, str], *, progress: Callable[[str, int, int], None] | None = None) -> Analysis:
    """Features (+ tags) of ``{id: path}``, cached under ``<data>/audio/``."""
    config = FeatureConfig.from_settings(settings)
    try:
        hand = extract_batch(dict(items), config, cache_dir=settings.data_path("audio", "feature_cache"),
                             n_jobs=settings.audio.features.n_jobs, show_progress=False,
                             progress=(lambda d, t: progress("features", d, t)) if progress else None)
    finally:
        release_workers()
    failed = dict(hand.failed)
    stats = {"cache_hits": hand.cache_hits, "computed": hand.computed,
             "feature_seconds": round(hand.seconds, 2)}
    frame = hand.features
    if settings.audio.tagger.enabled:
        from moodtune.audio.musicnn.tagger import TaggerConfig, tag_batch

        todo = {k: v for k, v in items.items() if k in frame.index}
        t = settings.audio.tagger
        cache = settings.path(t.cache_dir) if t.cache_dir else settings.data_path("audio", "tag_cache")
        tags = tag_batch(todo, TaggerConfig.from_settings(settings), cache_dir=cache,
                         progress=(lambda d, t: progress("tags", d, t)) if progress else None)
        failed.update(tags.failed)
        frame = frame.join(tags.features, how="inner")
        stats.update({"tag_cache_hits": tags.cache_hits, "tags_computed": tags.computed,
                      "tag_seconds": round(tags.seconds, 2)})
    return Analysis(frame, failed, stats)
