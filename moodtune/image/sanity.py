"""A sanity check of the face model on real images that ship in packages we depend on.

There is no labelled expression data we may ship or download, so this is a check that the
pipeline works on real photos, not an accuracy figure (the model's authors report ~66% on the
FER-2013 test set). It measures:

* ``detection_accuracy``: the LFW subset in scikit-image (100 real faces, 100 non-face
  patches from the same photos, 25×25): a face is found exactly in the face images;
* ``photo_checks``: the share of checks passed on bundled photos: one face in scikit-image's
  astronaut (NASA portrait of Eileen Collins, public domain) and in matplotlib's Grace Hopper
  (US Navy, public domain), none in the cat, coffee, rocket and motorcycle photos, and the
  astronaut's broad smile read as ``happy``;
* ``mirror_consistency``: 1 − the mean total-variation distance between the expressions read
  from each LFW face and from its mirror image (expressions are left-right symmetric);
* ``probabilities_valid``: 1 when every output is a probability distribution, else 0;
* ``sanity_score``: the mean of the four, the gate metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, cast

import cv2
import numpy as np

from moodtune.image.model import FaceEmotionModel


@dataclass(frozen=True)
class SamplePhoto:
    name: str
    source: str
    rgb: np.ndarray
    faces: int  # how many faces a person sees in it (frontal, large enough)
    expression: str | None = None  # the expression a person sees, when it is unmistakable


def _matplotlib_photo(name: str) -> np.ndarray:
    import matplotlib.cbook
    from PIL import Image

    with (
        cast(IO[bytes], matplotlib.cbook.get_sample_data(name)) as fh,
        Image.open(fh) as img,
    ):  # an image: a file
        return np.asarray(img.convert("RGB"))


def bundled_photos() -> list[SamplePhoto]:
    """Real photos shipped inside scikit-image and matplotlib (read from the installed packages)."""
    from skimage import data

    return [
        SamplePhoto(
            "astronaut", "scikit-image data.astronaut() (NASA, public domain)", data.astronaut(), 1, "happy"
        ),
        SamplePhoto(
            "grace_hopper",
            "matplotlib sample_data/grace_hopper.jpg (US Navy, public domain)",
            _matplotlib_photo("grace_hopper.jpg"),
            1,
        ),
        SamplePhoto("chelsea", "scikit-image data.chelsea() (a cat)", data.chelsea(), 0),
        SamplePhoto("coffee", "scikit-image data.coffee()", data.coffee(), 0),
        SamplePhoto("rocket", "scikit-image data.rocket()", data.rocket(), 0),
        SamplePhoto("motorcycle", "scikit-image data.stereo_motorcycle()[0]", data.stereo_motorcycle()[0], 0),
    ]


def lfw_subset(size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's LFW subset as (200, size+size/2, size+size/2, 3) uint8 RGB images and
    labels (True = face): each 25×25 image is enlarged to ``size`` and its edges extended by a
    quarter on every side, so the face detector can see it whole."""
    from skimage import data

    images = data.lfw_subset()
    border = size // 4
    out = []
    for a in images:
        g = cv2.resize(
            np.clip(np.rint(a * 255), 0, 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_CUBIC
        )
        g = cv2.copyMakeBorder(g, border, border, border, border, cv2.BORDER_REPLICATE)
        out.append(np.repeat(g[:, :, None], 3, axis=2))
    labels = np.arange(len(images)) < 100  # the subset holds 100 faces, then 100 non-faces
    return np.stack(out), labels


def lfw_face_crops() -> np.ndarray:
    """The 100 LFW faces as the network's 64×64 greyscale input (they are already face crops)."""
    from skimage import data

    faces = data.lfw_subset()[:100]
    return np.stack(
        [
            cv2.resize(
                np.clip(np.rint(a * 255), 0, 255).astype(np.uint8), (64, 64), interpolation=cv2.INTER_CUBIC
            )
            for a in faces
        ]
    )


def _valid(probs: np.ndarray) -> bool:
    probs = np.asarray(probs, dtype=float)
    return bool(
        probs.size
        and np.all(np.isfinite(probs))
        and np.all((probs >= 0) & (probs <= 1))
        and np.allclose(probs.sum(axis=-1), 1.0, atol=1e-6)
    )


@dataclass(frozen=True)
class SanityReport:
    scores: dict[str, float]
    rows: list[dict]  # one per check, for the MLflow table and the Dagster metadata


def evaluate(model: FaceEmotionModel) -> SanityReport:
    """Run every check; ``scores`` holds the four components and ``sanity_score``."""
    rows: list[dict] = []
    outputs: list[np.ndarray] = []

    images, is_face = lfw_subset()
    found = np.array([bool(model.detect(img)) for img in images])
    detection_accuracy = float((found == is_face).mean())
    rows.append(
        {
            "check": "lfw_subset detection",
            "expected": "100 faces found, 100 non-faces not",
            "got": f"{int(found[is_face].sum())} faces found, {int(found[~is_face].sum())} non-faces found",
            "passed": detection_accuracy,
        }
    )

    passed = []
    for photo in bundled_photos():
        readings = model.read(photo.rgb)
        outputs += [r.probabilities for r in readings]
        ok = len(readings) == photo.faces
        passed.append(ok)
        rows.append(
            {
                "check": f"{photo.name}: faces",
                "expected": photo.faces,
                "got": len(readings),
                "passed": float(ok),
                "source": photo.source,
            }
        )
        if photo.expression is not None:
            top = model.labels[int(readings[0].probabilities.argmax())] if readings else None
            ok = top == photo.expression
            passed.append(ok)
            rows.append(
                {
                    "check": f"{photo.name}: expression",
                    "expected": photo.expression,
                    "got": top,
                    "passed": float(ok),
                    "source": photo.source,
                }
            )
    photo_checks = float(np.mean(passed))

    crops = lfw_face_crops()
    probs = model.classify(crops)
    mirrored = model.classify(np.ascontiguousarray(crops[:, :, ::-1]))
    outputs += [probs, mirrored]
    mirror_consistency = float(1.0 - 0.5 * np.abs(probs - mirrored).sum(axis=1).mean())
    rows.append(
        {
            "check": "lfw faces: mirror consistency",
            "expected": ">= floor",
            "got": round(mirror_consistency, 4),
            "passed": mirror_consistency,
        }
    )

    probabilities_valid = float(all(_valid(np.atleast_2d(o)) for o in outputs))
    rows.append(
        {
            "check": "every output is a distribution",
            "expected": True,
            "got": bool(probabilities_valid),
            "passed": probabilities_valid,
        }
    )

    scores = {
        "detection_accuracy": detection_accuracy,
        "photo_checks": photo_checks,
        "mirror_consistency": mirror_consistency,
        "probabilities_valid": probabilities_valid,
    }
    scores["sanity_score"] = float(np.mean(list(scores.values())))
    return SanityReport(scores, rows)
