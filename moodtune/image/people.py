"""People in a photo -> one DLUT emotion: per-person label probabilities, weighted by area.

This is the taxonomy-neutral half of the photo pipeline (seed B): any detector/classifier that
gives, for each person, a box and probabilities over the labels of a known taxonomy can be
plugged in. ``"fer"`` (the 7 facial expressions, our face model) and ``"emotic"`` (the 26
Emotic categories seed B used, multi-label scores) map through :mod:`moodtune.emotions`, where a
label may feed several DLUT categories: mass is summed, never overwritten.

Each person's DLUT vector is normalised before weighting, so a multi-label classifier that
scores one person high on many labels does not outweigh a bigger person; the weight of a person
is the area of their box over the total area of the people who show any emotion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from moodtune import emotions
from moodtune.emotions import EmotionVector


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: left, top, width, height (image coordinates)."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self):
        if self.w <= 0 or self.h <= 0:
            raise ValueError(f"a box needs a positive width and height, got {self.w}x{self.h}")

    @classmethod
    def of(cls, box: Box | Sequence[float]) -> Box:
        """A :class:`Box` from itself or ``(x, y, w, h)``."""
        if isinstance(box, Box):
            return box
        x, y, w, h = (int(round(float(v))) for v in box)
        return cls(x, y, w, h)

    @classmethod
    def from_corners(cls, x1: float, y1: float, x2: float, y2: float) -> Box:
        """From ``(x1, y1, x2, y2)`` corners, the format YOLO-style person detectors give."""
        return cls.of((x1, y1, x2 - x1, y2 - y1))

    @property
    def area(self) -> int:
        return self.w * self.h

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True)
class PersonEmotion:
    """One person: where they are (a box) and their label probabilities in some taxonomy."""

    box: Box | Sequence[float]
    probabilities: Mapping[str, float]

    def __post_init__(self):
        object.__setattr__(self, "box", Box.of(self.box))
        object.__setattr__(self, "probabilities", {str(k): float(v) for k, v in self.probabilities.items()})

    def dlut(self, taxonomy: str) -> EmotionVector:
        """This person's emotion in fine DLUT categories (not normalised; may be empty)."""
        known = emotions.labels(taxonomy)  # KeyError naming the known taxonomies
        for label, p in self.probabilities.items():
            if label not in known:
                raise KeyError(f"{label!r} is not a {taxonomy} label; known: {', '.join(known)}")
            if not (math.isfinite(p) and -1e-6 <= p <= 1 + 1e-6):
                raise ValueError(f"the probability of {label!r} must be in [0, 1], got {p}")
        return emotions.to_dlut(taxonomy, {k: min(max(v, 0.0), 1.0) for k, v in self.probabilities.items()})


PersonLike = PersonEmotion | tuple[Box | Sequence[float], Mapping[str, float]]


def area_weights(boxes: Sequence[Box | Sequence[float]]) -> np.ndarray:
    """Each box's share of the total area (sums to 1; empty input gives an empty array)."""
    areas = np.array([Box.of(b).area for b in boxes], dtype=float)
    return areas / areas.sum() if len(areas) else areas


def people_to_dlut(people: Sequence[PersonLike], taxonomy: str) -> EmotionVector:
    """The area-weighted, normalised fine DLUT emotion of the people in a photo.

    ``people`` holds :class:`PersonEmotion` objects or ``(box, probabilities)`` pairs, ``box``
    as ``(x, y, w, h)``; ``taxonomy`` names the labels (``"fer"``, ``"emotic"``, or any
    taxonomy of :mod:`moodtune.emotions`). People whose probabilities carry no DLUT mass (all
    zero) take no share of the weight. Raises ``ValueError`` when nobody carries any emotion:
    a photo without emotion has none, and a uniform guess would silently match any song.
    """
    persons = [p if isinstance(p, PersonEmotion) else PersonEmotion(*p) for p in people]
    vectors = [p.dlut(taxonomy) for p in persons]
    showing = [(p, v) for p, v in zip(persons, vectors, strict=True) if not v.is_empty()]
    if not showing:
        raise ValueError("no person in the photo carries any emotion")
    weights = area_weights([p.box for p, _ in showing])
    total = EmotionVector.zeros("fine")
    for weight, (_, vector) in zip(weights, showing, strict=True):
        total = total + vector.normalise() * float(weight)
    return total.normalise()
