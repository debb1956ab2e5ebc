"""The ``service:`` section of params.yaml (:class:`ServiceSettings`), composed by :mod:`moodtune.settings`.

The service's limits, how it runs and where its catalog lives. This module imports pydantic and
:mod:`moodtune.section` only (``settings.py`` imports it).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from moodtune.section import Section


class ServiceSettings(Section):
    """The BentoML service: what it accepts (limits), how it runs, where the catalog lives."""

    catalog_dir: Path  # relative to the data dir: catalog.parquet + catalog.json
    max_request_bytes: int = Field(ge=1_000)  # a larger request body is refused (413)
    max_file_bytes: int = Field(ge=1_000)  # one uploaded audio file or photo
    max_files: int = Field(ge=1)  # audio files in one uploaded playlist
    max_playlist: int = Field(ge=1)  # catalog ids in one playlist
    max_k: int = Field(ge=1)
    default_k: int = Field(ge=1)
    max_text_chars: int = Field(ge=1)
    max_hrv_bytes: int = Field(ge=100)  # an uploaded RR / metrics / ECG / PPG file
    max_hrv_signal_seconds: float = Field(gt=0)  # an uploaded ECG / PPG signal at most this long
    max_rr_intervals: int = Field(ge=10)  # RR intervals in one request (JSON or an uploaded file)
    max_hrv_rows: int = Field(ge=1)  # rows of an uploaded metrics CSV
    max_hrv_signal_samples: int = Field(ge=100)  # samples of an uploaded ECG / PPG signal
    audio_min_rate_hz: int = Field(ge=1)  # an uploaded audio file's sample rate range (from its header)
    audio_max_rate_hz: int = Field(ge=1)
    max_audio_seconds: float = Field(gt=0)  # an uploaded audio file's declared length
    reason_top: int = Field(ge=1)  # emotions named in a recommendation's reason
    workers: int = Field(ge=1)  # BentoML worker processes
    reload_interval_seconds: float = Field(ge=0)  # poll the registry's champions; 0 = never
    timeout_s: int = Field(ge=1)  # per-request timeout
    log_batch_max: int = Field(ge=1)  # recommendation events committed together (group commit)
    hrv_batch_wait_ms: float = Field(
        ge=0, le=1000
    )  # feedback's metrics readings wait this long to be read together
    api_keys: tuple[str, ...]  # when set, /feedback and /metrics need one (X-API-Key)
    rate_limit_per_minute: int = Field(ge=0)  # writes per client per minute (per worker); 0 = off
