"""Compile librosa's numba functions once, in one process, right after librosa is installed.

librosa caches numba-compiled code next to the package. On a fresh install two feature
worker processes compiling the same function at once can leave a torn cache file that
segfaults the next process that loads it (seen in CI). Compiling everything here first
means workers only ever read a complete cache. The functions moodtune's features use are
vectorised with explicit signatures, so importing their modules compiles them (~20-30 s);
scripts/install.py runs this while pip unpacks the other packages, so it needs librosa only.
"""

import importlib

MODULES = ("librosa.util.utils", "librosa.core.audio", "librosa.core.pitch", "librosa.core.spectrum")

if __name__ == "__main__":
    for name in MODULES:
        importlib.import_module(name)
    print("numba caches warmed")
