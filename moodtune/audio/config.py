"""The ``audio:`` section of params.yaml (:class:`AudioSettings`), composed by :mod:`moodtune.settings`.

The audio code receives its part explicitly: :func:`moodtune.audio.decode.decode` the
:class:`AudioDecodeSettings` (``audio.decode``), the feature extractor
(:mod:`moodtune.audio.features`) the :class:`AudioFeatureSettings` and the decode section, the
tagger (:mod:`moodtune.audio.musicnn.tagger`) the :class:`AudioTaggerSettings` and the decode
section; the dataset, catalog and training functions the whole settings. No field has a default:
every value is in params.yaml (tests/test_params_settings.py). This module imports pydantic and
:mod:`moodtune.section` only (``settings.py`` imports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from moodtune.section import Section


class AudioDecodeSettings(Section):
    """What counts as usable audio, and the rate every clip is brought to (:mod:`moodtune.audio.decode`)."""

    sample_rate: int = Field(ge=1)
    min_seconds: float  # shorter audio is refused as too short
    max_seconds: float  # longer audio is cut to its first max_seconds
    silence_peak: float  # a peak amplitude below this is refused as silent


class AudioFeatureSettings(Section):
    """How a clip becomes features (one STFT per clip; see moodtune.audio.features)."""

    preemphasis: float
    n_fft: int
    hop_length: int
    n_mels: int
    n_mfcc: int
    logmel_bands: int
    silence_top_db: float
    n_jobs: int


class AudioModelSettings(Section):
    """The multi-label network (6 GEMS emotions + 4 genres) and its training."""

    hidden: list[int]
    dropout: float
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    test_size: float
    decision_threshold: float


class AudioTaggerSettings(Section):
    """The pretrained musicnn tagger (MTT + MSD models, torch port; see moodtune.audio.musicnn)."""

    enabled: bool
    max_seconds: float
    batch_patches: int = Field(ge=1)
    threads: int = Field(ge=1)
    patches_per_clip: int = Field(ge=0)  # 0: every 3 s patch of a clip; else this many, evenly spaced
    workers: int = Field(ge=1)  # processes tagging a batch (each with `threads` torch threads)


class AudioSceneSettings(Section):
    """Real music labelled high / low arousal and sad by the scene its title names (moodtune/audio/scenes.yaml)."""

    enabled: bool
    clip_seconds: float = Field(gt=0)
    clips_per_track: int = Field(ge=1)
    max_tracks_per_package: int = Field(ge=1)
    head_c: float = Field(gt=0)
    gate_floors: dict[str, float]


class AudioRealSetSettings(Section):
    """The real-music validation set: game soundtracks from Debian packages (moodtune/audio/realset.yaml)."""

    enabled: bool
    cache_dir: Path | None
    clip_seconds: float
    clips_per_track: int = Field(ge=1)
    max_tracks_per_package: int = Field(ge=1)
    head_c: float = Field(gt=0)
    head_weight: float = Field(ge=0, le=1)
    gate_floors: dict[str, float]
    scenes: AudioSceneSettings


class AudioCatalogSettings(Section):
    """What the service recommends from (moodtune/audio/catalog.yaml, docs/catalog.md)."""

    source: Literal[
        "auto", "debian", "folder", "demo"
    ]  # auto: music_dir, else Debian music, else the demo clips
    cache_dir: (
        Path | None
    )  # Debian packages, extracted; None -> $XDG_CACHE_HOME/moodtune/debian (outside the clone)
    min_track_seconds: float = Field(ge=0)  # shorter files (jingles, stingers) are not songs
    max_tracks_per_package: int = Field(ge=1)
    fetch_workers: int = Field(ge=1)  # packages fetched at once (a fresh machine waits on the network)
    packages: tuple[str, ...] | None  # only these Debian packages; None: every one listed


class AudioSettings(Section):
    """Audio -> GEMS emotions + genre (see moodtune.audio and docs/audio.md)."""

    emotify_dir: Path | None
    music_dir: Path | None
    label_threshold: float
    clips_per_cell: int
    clip_seconds: float
    decode: AudioDecodeSettings
    features: AudioFeatureSettings
    model: AudioModelSettings
    tagger: AudioTaggerSettings
    real_set: AudioRealSetSettings
    catalog: AudioCatalogSettings
    library_shards: int = Field(ge=1)  # audio.music_dir is analysed in this many stable shards
    # the features' and tags' content-keyed caches (moodtune.audio.analysis.cache_root): None ->
    # $XDG_CACHE_HOME/moodtune/analysis, shared by clones; a relative path is under the data dir
    cache_dir: Path | None
    gate_floors: dict[str, float]
    gate_margin: float
