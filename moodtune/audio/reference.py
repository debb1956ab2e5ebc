"""The seed's way to compute the features: one librosa call per feature, on the waveform.

Kept as the reference for ``benchmarks/audio_features.py`` and for the tests that check our
one-STFT extractor agrees with it. Every spectral call below recomputes its own STFT (chroma,
roll-off, onset strength, contrast, flatness, MFCC, tempo, tempogram, mel spectrogram), which
is what :mod:`moodtune.audio.features` avoids. Not used by the pipeline.
"""

from __future__ import annotations

import numpy as np

from moodtune.audio.config import AudioDecodeSettings, AudioFeatureSettings
from moodtune.audio.decode import decode

# The features both extractors compute the same way (ours reads its tempogram statistics off
# the 8 s tempogram that the tempo estimate uses, the seed's tempogram call uses 384 frames,
# so those are not compared); how close they must be: see ``compare``.
SHARED_FEATURES: tuple[str, ...] = (
    *(f"chroma_mean_{i}" for i in range(12)),
    "rolloff_mean",
    "zcr_mean",
    "rms_mean",
    "flux_mean",
    *(f"contrast_mean_{i}" for i in range(7)),
    "flatness_mean",
    *(f"mfcc_mean_{i}" for i in range(20)),
    "tempo",
    "logmel_mean_0",
)


def reference_features(
    path: str, features: AudioFeatureSettings, limits: AudioDecodeSettings
) -> dict[str, float]:
    """Seed-style extraction: decode, pre-emphasis, then each feature called separately."""
    import librosa

    y, sr = decode(path, limits)
    y = librosa.effects.preemphasis(y, coef=features.preemphasis)
    out: dict[str, float] = {}
    chroma = librosa.feature.chroma_stft(y=y, sr=sr)
    for i, v in enumerate(chroma.mean(axis=1)):
        out[f"chroma_mean_{i}"] = float(v)
    out["rolloff_mean"] = float(librosa.feature.spectral_rolloff(y=y, sr=sr).mean())
    out["zcr_mean"] = float(librosa.feature.zero_crossing_rate(y).mean())
    out["rms_mean"] = float(librosa.feature.rms(y=y).mean())
    out["flux_mean"] = float(librosa.onset.onset_strength(y=y, sr=sr).mean())
    contrast = librosa.feature.spectral_contrast(y=y, sr=sr)
    for i, v in enumerate(contrast.mean(axis=1)):
        out[f"contrast_mean_{i}"] = float(v)
    out["flatness_mean"] = float(librosa.feature.spectral_flatness(y=y).mean())
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=features.n_mfcc)
    for i, v in enumerate(mfcc.mean(axis=1)):
        out[f"mfcc_mean_{i}"] = float(v)
    out["tempo"] = float(librosa.feature.tempo(y=y, sr=sr)[0])
    out["tempogram_mean"] = float(
        librosa.feature.tempogram(y=y, sr=sr).mean()
    )  # 384-frame window: not shared
    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr))
    groups = np.array_split(np.arange(mel.shape[0]), features.logmel_bands)
    out["logmel_mean_0"] = float(mel[groups[0]].mean())
    return out


def compare(
    ours: dict[str, dict[str, float]], reference: dict[str, dict[str, float]], rel_tol: float = 0.02
) -> dict[str, float]:
    """The worst disagreement per shared feature, as a share of that feature's scale.

    The scale of a feature is the larger of its spread (max - min) across the clips and its
    mean absolute value, so a feature that is near zero is not judged on noise. Returns
    ``{feature: worst |ours - reference| / scale}``; a value above ``rel_tol`` disagrees.
    """
    ids = sorted(set(ours) & set(reference))
    worst: dict[str, float] = {}
    for name in SHARED_FEATURES:
        a = np.array([ours[i][name] for i in ids])
        b = np.array([reference[i][name] for i in ids])
        scale = max(float(b.max() - b.min()), float(np.mean(np.abs(b))), 1e-12)
        worst[name] = float(np.max(np.abs(a - b)) / scale)
    return worst
