"""``moodtune analyze-audio FILE...``: genre and emotion probabilities from the champion."""

from __future__ import annotations

import argparse
import json
import sys

from moodtune.cli import command, loading
from moodtune.errors import InvalidAudio


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, mp3)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per file, with every probability at full precision")
    parser.add_argument("--alias", default=None, help="registry alias to use (default: champion)")


@command("analyze-audio", "genre and emotion probabilities of audio files, from the champion model", _arguments)
def analyze_audio(args: argparse.Namespace) -> int:
    from moodtune import registry
    from moodtune.emotions import GEMS6, GENRES
    from moodtune.settings import get_settings

    with loading("loading the audio model"):
        model = registry.load(registry.AUDIO, args.alias, get_settings())
    failures = 0
    for path in args.files:
        try:
            proba = model.analyze(path)
        except InvalidAudio as exc:
            print(f"moodtune analyze-audio: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        genres = {g: float(proba[g]) for g in GENRES}
        emotions = {e: float(proba[e]) for e in GEMS6}
        genre = max(genres, key=genres.get)
        if args.json:
            print(json.dumps({"file": path, "model_version": model.version, "genre": genre,
                              "genres": genres, "emotions": emotions}))
            continue
        print(f"{path}  (moodtune-audio v{model.version})")
        print(f"  genre: {genre} ({genres[genre]:.2f})   "
              + "  ".join(f"{g} {p:.2f}" for g, p in genres.items()))
        ranked = sorted(emotions.items(), key=lambda kv: -kv[1])
        print("  emotions: " + "  ".join(f"{e} {p:.2f}" for e, p in ranked))
    return 2 if failures else 0
