"""A listener's photo -> the people's emotion in DLUT -> the nearest tracks (seed B, done right).

:func:`emotion_of` decodes the photo safely, finds the faces, reads each one's expression,
maps the expressions to DLUT (``moodtune.emotions``, summing) and weights the people by the area
of their faces. A photo without a face is an explicit "no person found" result, never an
arbitrary emotion; :func:`recommend_from_image` turns it into :class:`NoPersonFound` (a 422).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np

from moodtune.emotions import CATEGORY_BY_CODE, EmotionVector
from moodtune.errors import InvalidImage
from moodtune.image.config import ImageSettings
from moodtune.image.decode import DecodedImage, decode_image
from moodtune.image.model import FaceReading
from moodtune.image.people import Box, PersonEmotion, area_weights, people_to_dlut

TAXONOMY = "fer"


class NoPersonFound(InvalidImage):
    """The photo was read, but no face was found in it."""


@dataclass(frozen=True)
class Face:
    """One face: its box (x, y, w, h in the upright photo), expressions and share of the weight."""

    box: Box
    expressions: dict[str, float]
    weight: float
    confidence: float

    @property
    def top(self) -> str:
        return max(self.expressions, key=self.expressions.__getitem__)

    def as_dict(self) -> dict[str, Any]:
        return {
            "box": self.box.as_list(),
            "expressions": self.expressions,
            "top": self.top,
            "weight": self.weight,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class ImageEmotion:
    """What a photo says: the faces, and the emotion of the people (``None`` when nobody)."""

    faces: tuple[Face, ...]
    emotion: EmotionVector | None  # fine DLUT, normalised
    width: int
    height: int
    model_version: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return bool(self.faces) and self.emotion is not None

    @property
    def message(self) -> str:
        if self.found:
            n = len(self.faces)
            return f"{n} face{'s' if n > 1 else ''} found"
        return (
            "no person found in the photo: use a photo in which at least one face is "
            "clearly visible, upright and facing the camera"
        )

    def require_found(self) -> ImageEmotion:
        """``self``, or :class:`NoPersonFound` with :attr:`message`."""
        if not self.found:
            raise NoPersonFound(self.message)
        return self

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what the service returns and the CLI prints)."""
        out: dict[str, Any] = {
            "found": self.found,
            "message": self.message,
            "width": self.width,
            "height": self.height,
            "faces": [f.as_dict() for f in self.faces],
            "model_version": self.model_version,
            **self.details,
        }
        if self.emotion is not None:
            valence, arousal = self.emotion.valence_arousal()
            out["emotion"] = self.emotion.as_dict()
            out["top_emotions"] = [
                {
                    "code": c,
                    "chinese": CATEGORY_BY_CODE[c].chinese,
                    "english": CATEGORY_BY_CODE[c].english,
                    "strength": v,
                }
                for c, v in self.emotion.top(5)
            ]
            out["emotion_coarse"] = self.emotion.to_coarse().as_dict()
            out["valence"], out["arousal"] = valence, arousal
        return out


@runtime_checkable
class ServedFace(Protocol):
    """What the service calls on the face model (e.g. :class:`~moodtune.image.model.FaceEmotionModel`),
    through :func:`emotion_of` and :func:`recommend_from_image`."""

    @property
    def labels(self) -> tuple[str, ...]: ...
    @property
    def version(self) -> str | None: ...

    def read(self, rgb: np.ndarray) -> list[FaceReading]: ...


def emotion_of(image_bytes: bytes, model: ServedFace, image: ImageSettings) -> ImageEmotion:
    """The emotion of the people in a photo (the bytes of an image file), decoded under the
    ``image`` settings' limits (``max_bytes``, ``max_pixels``, ``formats``).

    Bad input raises :class:`InvalidImage` saying what to fix; a readable photo without a face
    gives ``found == False`` (call :meth:`ImageEmotion.require_found` to turn that into an error).
    """
    decoded = decode_image(
        image_bytes, max_bytes=image.max_bytes, max_pixels=image.max_pixels, formats=image.formats
    )
    return emotion_of_decoded(decoded, model)


def emotion_of_decoded(decoded: DecodedImage | np.ndarray, model: ServedFace) -> ImageEmotion:
    """:func:`emotion_of` for an already decoded image (or an (h, w, 3) uint8 RGB array)."""
    if isinstance(decoded, DecodedImage):
        rgb, details = (
            decoded.rgb,
            {"format": decoded.format, "mode": decoded.mode, "exif_rotated": decoded.exif_rotated},
        )
    else:
        rgb, details = np.asarray(decoded), {}
    height, width = rgb.shape[:2]
    readings = model.read(rgb)
    if not readings:
        return ImageEmotion((), None, width, height, model.version, details)
    people = [
        PersonEmotion(r.box, dict(zip(model.labels, map(float, r.probabilities), strict=True)))
        for r in readings
    ]
    weights = area_weights([p.box for p in people])
    faces = tuple(
        Face(r.box, dict(p.probabilities), float(w), r.confidence)  # p.box is r.box
        for p, w, r in zip(people, weights, readings, strict=True)
    )
    return ImageEmotion(faces, people_to_dlut(people, TAXONOMY), width, height, model.version, details)


class VectorIndex(Protocol):
    """Anything that finds the tracks nearest an emotion (e.g. ``moodtune.text.index.EmotionIndex``)."""

    def query_vector(self, vec: EmotionVector, k: int) -> Any: ...


@dataclass(frozen=True)
class PhotoRecommendation:
    emotion: ImageEmotion
    query: EmotionVector  # the vector sent to the index (coarse when the index is coarse)
    tracks: Any  # what the index returned

    def as_dict(self) -> dict[str, Any]:
        tracks = self.tracks
        if hasattr(tracks, "to_dict"):  # a DataFrame
            tracks = tracks.to_dict(orient="records")
        elif isinstance(tracks, (list, tuple)):  # e.g. moodtune.text.index.Hit objects
            tracks = [t.as_dict() if hasattr(t, "as_dict") else t for t in tracks]
        return {**self.emotion.as_dict(), "query": self.query.as_dict(), "tracks": tracks}


def recommend_from_image(
    image_bytes: bytes,
    face_model: ServedFace,
    index: VectorIndex,
    k: int = 10,
    *,
    image: ImageSettings,
) -> PhotoRecommendation:
    """The ``k`` tracks nearest the emotion of the people in a photo.

    :class:`NoPersonFound` (an :class:`InvalidImage`, 422) when the photo shows no face: we do not
    recommend arbitrary songs. The emotion is converted to the index's granularity (an index with
    ``granularity == "coarse"`` gets the 7 groups).
    """
    if int(k) < 1:
        raise InvalidImage(f"k must be at least 1, got {k}")
    result = emotion_of(image_bytes, face_model, image).require_found()
    query = cast(EmotionVector, result.emotion)  # found: it has one
    if getattr(index, "granularity", "fine") == "coarse":
        query = query.to_coarse()
    return PhotoRecommendation(result, query, index.query_vector(query, int(k)))
