"""Compile librosa's numba functions once, in one process, right after install.

librosa caches numba-compiled code next to the package. On a fresh install two feature
worker processes compiling the same function at once can leave a torn cache file that
segfaults the next process that loads it (seen in CI). Compiling everything here first
means workers only ever read a complete cache.
"""

import tempfile
from pathlib import Path

from moodtune.audio.features import extract_features
from moodtune.audio.reference import reference_features
from moodtune.audio.synth import synthesise
from moodtune.data.demo_catalog import demo_catalog

if __name__ == "__main__":
    import soundfile as sf

    row = demo_catalog(1, 0).iloc[0].to_dict()
    sr = 22050
    y, _ = synthesise(row, 3.0, sr, 0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "warm.wav"
        sf.write(path, y, sr)
        extract_features(path)
        reference_features(str(path))
    print("numba caches warmed")
