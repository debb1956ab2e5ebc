"""The ``image:`` section of params.yaml (:class:`ImageSettings`), composed by :mod:`moodtune.settings`.

The image code receives its part explicitly: :func:`moodtune.image.photo.emotion_of` the whole
section (the decode limits), :class:`moodtune.image.model.FaceEmotionModel` the
:class:`FaceDetectorSettings` (``image.detector``: a part of the model, saved and registered
with it). No field has a default: every value is in params.yaml (tests/test_params_settings.py).
This module imports pydantic and :mod:`moodtune.section` only (``settings.py`` imports it).
"""

from __future__ import annotations

from pydantic import Field

from moodtune.section import Section


class FaceDetectorSettings(Section):
    """How faces are found and cropped (:class:`moodtune.image.model.FaceEmotionModel`)."""

    detect_max_side: int = Field(ge=64)  # photos are scaled down to this longest side for detection
    scale_factor: float = Field(gt=1.0)  # Haar cascade pyramid step
    min_neighbors: int = Field(ge=0)  # Haar cascade: overlapping hits needed for a face
    min_face_px: int = Field(ge=24)  # smallest face side searched (in the detection image)
    min_confidence: float  # smallest Haar level weight kept as a face
    max_faces: int = Field(ge=1)  # the largest faces kept
    # context added around each face box, as a fraction of its side
    crop_margin: float = Field(ge=0.0, le=1.0)


class ImageSettings(Section):
    """Photos: what is accepted (decode limits), how faces are found, and the face model's gate."""

    max_bytes: int = Field(ge=1)  # larger uploads/files are refused
    max_pixels: int = Field(ge=1)  # width x height above this is refused before decoding
    formats: tuple[str, ...]  # Pillow decoders accepted
    detector: FaceDetectorSettings
    gate_metric: str
    gate_floors: dict[str, float]
    gate_margin: float
