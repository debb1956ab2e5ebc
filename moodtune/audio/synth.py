"""Synthesised demo clips with a known ground truth: genre in timbre, emotion in the music.

Genre lives in instrumentation, timbre and rhythm:

* classical - bowed-string-like tones (sawtooth partials, slow attack, vibrato, a detuned
  ensemble), sustained string chords, no drums;
* rock - distorted power chords (root, fifth, octave through a tanh overdrive) in eighths,
  kick on 1 and 3, snare on 2 and 4, hi-hats;
* electronic - square-wave synth arpeggios, a sine sub-bass, a four-on-the-floor kick,
  off-beat hi-hats and a side-chain pump;
* pop - piano-like tones (decaying partials, bright attack to mellow tail), chords on the beat and
  light drums.

Emotion lives in tempo, mode, loudness, register, articulation, note density and
dissonance (see :data:`EMOTION_PROFILES`). A track's profile blends its marked emotions
(primary 0.7, companion 0.3) and every clip draws its own key, tempo, loudness, register,
articulation and melody, so the task is learnable but not trivial.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from moodtune.emotions import GEMS6

GENERATOR_VERSION = 1

# tempo (bpm), p(minor), gain (mix RMS), register (MIDI centre), articulation (share of a
# step a note sounds), density (notes per beat), dissonance (0..1), brightness (0..1).
EMOTION_PROFILES: dict[str, dict[str, float]] = {
    "tenderness": dict(
        tempo=74, minor=0.15, gain=0.07, register=69, artic=0.95, density=1.0, dissonance=0.0, brightness=0.35
    ),
    "calmness": dict(
        tempo=56, minor=0.2, gain=0.045, register=60, artic=1.0, density=0.5, dissonance=0.0, brightness=0.2
    ),
    "power": dict(
        tempo=116, minor=0.3, gain=0.2, register=45, artic=0.75, density=1.0, dissonance=0.15, brightness=0.9
    ),
    "joyful_activation": dict(
        tempo=144, minor=0.0, gain=0.15, register=74, artic=0.35, density=2.0, dissonance=0.0, brightness=0.8
    ),
    "tension": dict(
        tempo=100, minor=0.9, gain=0.12, register=63, artic=0.25, density=3.0, dissonance=0.85, brightness=0.6
    ),
    "sadness": dict(
        tempo=58, minor=1.0, gain=0.06, register=52, artic=0.9, density=0.75, dissonance=0.1, brightness=0.25
    ),
}
PRIMARY_WEIGHT = 0.7

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
# chord roots as scale degrees, one chord a bar
PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (5, 3, 0, 4))


@dataclass(frozen=True)
class ClipParams:
    """Everything drawn for one clip (kept for inspection and tests)."""

    genre: str
    tempo: float
    minor: bool
    gain: float
    register: float
    artic: float
    density: float
    dissonance: float
    brightness: float
    key: int


def _midi_hz(m):
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=float) - 69.0) / 12.0)


def _envelope(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    env = np.ones(n, dtype=np.float64)
    a = min(n, max(1, int(attack * sr)))
    r = min(n - a, max(1, int(release * sr))) if n > a else 0
    env[:a] = np.linspace(0.0, 1.0, a, endpoint=False)
    if r > 0:
        env[n - r :] *= np.linspace(1.0, 0.0, r)
    return env


_TABLE_SIZE = 4096
_MAX_PARTIALS = 16
# one period of each partial's sine: a waveform is this basis times its partial amplitudes
_BASIS = np.sin(2 * np.pi * np.outer(np.arange(_TABLE_SIZE) / _TABLE_SIZE, np.arange(1, _MAX_PARTIALS + 1)))


def _table(amps: np.ndarray) -> np.ndarray:
    """One period of a waveform with partial k at amplitude ``amps[k-1]``."""
    return _BASIS[:, : len(amps)] @ amps


def _tone(
    freq: float,
    seconds: float,
    sr: int,
    amps,
    *,
    decay: float = 0.0,
    attack: float = 0.01,
    release: float = 0.03,
    vibrato: float = 0.0,
    detune_cents: float = 0.0,
):
    """A wavetable tone: partial k at k*f with amplitude ``amps[k-1]`` (partials above Nyquist
    left out). ``decay`` (1/s) makes a struck/plucked tone: loudness decays and the timbre
    fades from bright to mellow; ``vibrato`` is a relative pitch depth at 5.5 Hz."""
    n = max(1, int(seconds * sr))
    t = np.arange(n) / sr
    f = freq * 2.0 ** (detune_cents / 1200.0)
    cycles = f * t
    if vibrato:
        rate = 5.5
        cycles = cycles - (f * vibrato / (2 * np.pi * rate)) * np.cos(2 * np.pi * rate * t)
    amps = np.asarray(amps, dtype=float)[: max(1, int((sr / 2) // f))]
    idx = ((cycles % 1.0) * _TABLE_SIZE).astype(np.int32)
    sig = _table(amps)[idx]
    if decay:
        mellow = _table(amps * np.exp(-1.5 * np.arange(len(amps))))[idx]
        w = np.exp(-t * decay * 1.5)
        sig = (w * sig + (1 - w) * mellow) * np.exp(-t * decay * 0.6)
    return sig * _envelope(n, sr, attack, release)


def _add(buf: np.ndarray, start: float, sig: np.ndarray, sr: int, gain: float = 1.0) -> None:
    i = int(start * sr)
    if i >= len(buf) or i < 0:
        return
    j = min(len(buf), i + len(sig))
    buf[i:j] += gain * sig[: j - i]


def _kick(sr, rng, soft=False):
    n = int(0.3 * sr)
    t = np.arange(n) / sr
    f = 45 + 100 * np.exp(-t / 0.04)
    phase = 2 * np.pi * np.cumsum(f) / sr
    return np.sin(phase) * np.exp(-t / (0.12 if soft else 0.18))


def _snare(sr, rng):
    n = int(0.2 * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    return 0.7 * noise * np.exp(-t / 0.06) + 0.4 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05)


def _hat(sr, rng, length=0.05):
    n = int(length * sr)
    noise = np.diff(rng.standard_normal(n + 1))  # first difference: a crude high-pass
    return 0.5 * noise * np.exp(-np.arange(n) / sr / (length / 3))


def clip_params(
    genre: str, marks: dict[str, int], rng: np.random.Generator, primary: str | None = None
) -> ClipParams:
    """Blend the marked emotions' profiles and draw this clip's own variation."""
    marked = [e for e in GEMS6 if marks.get(e)]
    if not marked:
        raise ValueError("a demo track needs at least one emotion mark")
    primary = primary if primary in marked else marked[0]
    others = [e for e in marked if e != primary]
    weights = {primary: PRIMARY_WEIGHT if others else 1.0}
    for e in others:
        weights[e] = (1 - PRIMARY_WEIGHT) / len(others)
    blend = {
        k: sum(w * EMOTION_PROFILES[e][k] for e, w in weights.items()) for k in EMOTION_PROFILES[primary]
    }
    return ClipParams(
        genre=genre,
        tempo=float(blend["tempo"] * np.exp(rng.normal(0, 0.08))),
        minor=bool(rng.random() < blend["minor"]),
        gain=float(blend["gain"] * 10 ** (rng.normal(0, 2.0) / 20)),
        register=float(blend["register"] + rng.integers(-3, 4)),
        artic=float(np.clip(blend["artic"] + rng.normal(0, 0.08), 0.15, 1.0)),
        density=float(blend["density"]),
        dissonance=float(np.clip(blend["dissonance"] + rng.normal(0, 0.05), 0.0, 1.0)),
        brightness=float(np.clip(blend["brightness"] + rng.normal(0, 0.08), 0.05, 1.0)),
        key=int(rng.integers(0, 12)),
    )


def _partials(kind: str, brightness: float, n: int = 10) -> np.ndarray:
    k = np.arange(1, n + 1, dtype=float)
    if kind == "saw":
        amps = 1.0 / k
    elif kind == "square":
        amps = np.where(k % 2 == 1, 1.0 / k, 0.0)
    else:  # piano-ish
        amps = 1.0 / k**1.5
    return amps * np.exp(-(k - 1) * (1.2 - brightness))


def render(p: ClipParams, seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """The clip's samples (float32, mono, peak below 1)."""
    n = int(round(seconds * sr))
    beat = 60.0 / p.tempo
    scale = MINOR if p.minor else MAJOR
    tonic = p.register + p.key - 6  # the key moves the register a little, both ways
    prog = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    lead = np.zeros(n)
    harm = np.zeros(n)
    drums = np.zeros(n)
    genre = p.genre

    # --- harmony: one chord a bar ------------------------------------------------------
    bar = 4 * beat
    n_bars = int(np.ceil(seconds / bar)) + 1
    for b in range(n_bars):
        degree = prog[b % len(prog)]
        root_pc = scale[degree % 7]
        third = scale[(degree + 2) % 7] + (12 if (degree + 2) >= 7 else 0)
        fifth = scale[(degree + 4) % 7] + (12 if (degree + 4) >= 7 else 0)
        base = tonic - 12
        chord = [base + root_pc, base + third, base + fifth]
        if rng.random() < p.dissonance:
            chord.append(base + root_pc + rng.choice([1, 6, 11]))  # minor 2nd, tritone, major 7th
        t0 = b * bar
        if genre == "classical":
            for m in chord:
                for cents in (-6.0, 6.0):
                    sig = _tone(
                        float(_midi_hz(m)),
                        bar * max(p.artic, 0.5),
                        sr,
                        _partials("saw", p.brightness * 0.8, 8),
                        attack=0.25,
                        release=0.3,
                        vibrato=0.003,
                        detune_cents=cents + 15 * p.dissonance * rng.normal(),
                    )
                    _add(harm, t0, sig, sr, 0.25)
        elif genre == "rock":
            power = [base + root_pc, base + root_pc + 7, base + root_pc + 12]
            if rng.random() < p.dissonance:
                power.append(base + root_pc + 6)
            for e in range(8):
                chord_sig = sum(
                    _tone(
                        float(_midi_hz(m)),
                        beat / 2 * max(p.artic, 0.4),
                        sr,
                        _partials("saw", 0.9, 12),
                        attack=0.003,
                        release=0.02,
                    )
                    for m in power
                )
                _add(harm, t0 + e * beat / 2, np.tanh(4.0 * chord_sig), sr, 0.5)
        elif genre == "electronic":
            for m in chord:
                sig = _tone(
                    float(_midi_hz(m + 12)),
                    bar * 0.95,
                    sr,
                    _partials("saw", p.brightness, 10),
                    attack=0.05,
                    release=0.1,
                    detune_cents=8 * p.dissonance * rng.normal(),
                )
                # side-chain pump: the pad ducks on every beat
                tt = np.arange(len(sig)) / sr
                sig *= 1.0 - 0.7 * np.exp(-(tt % beat) / 0.08)
                _add(harm, t0, sig, sr, 0.2)
            for q in range(4):  # sub-bass on the beat
                _add(
                    harm,
                    t0 + q * beat,
                    _tone(
                        float(_midi_hz(base + root_pc - 12)),
                        beat * 0.9,
                        sr,
                        [1.0],
                        attack=0.005,
                        release=0.05,
                    ),
                    sr,
                    0.6,
                )
        else:  # pop: piano chords on the beat
            for q in range(4):
                for m in chord:
                    _add(
                        harm,
                        t0 + q * beat,
                        _tone(
                            float(_midi_hz(m)),
                            beat * max(p.artic, 0.3) + 0.1,
                            sr,
                            _partials("piano", p.brightness, 8),
                            decay=2.5,
                            attack=0.003,
                            release=0.05,
                        ),
                        sr,
                        0.3,
                    )

    # --- melody: a random walk on the scale ----------------------------------------------
    step = beat / p.density
    t = float(rng.uniform(0, step))
    degree = int(rng.integers(0, 7))
    while t < seconds:
        degree = int(np.clip(degree + rng.choice([-2, -1, -1, 0, 1, 1, 2]), -7, 14))
        midi = tonic + 12 * (degree // 7) + scale[degree % 7]
        dur = step * p.artic * float(rng.uniform(0.85, 1.15))
        notes = [midi]
        if rng.random() < p.dissonance * 0.6:
            notes.append(midi + int(rng.choice([1, 6])))
        for m in notes:
            f = float(_midi_hz(m))
            if genre == "classical":
                sig = _tone(
                    f,
                    dur + 0.05,
                    sr,
                    _partials("saw", p.brightness, 10),
                    attack=min(0.12, dur / 3),
                    release=0.08,
                    vibrato=0.004,
                )
            elif genre == "rock":
                sig = np.tanh(3.0 * _tone(f, dur, sr, _partials("saw", 0.9, 12), attack=0.005, release=0.03))
            elif genre == "electronic":
                sig = _tone(f, dur, sr, _partials("square", p.brightness, 11), attack=0.004, release=0.02)
            else:
                sig = _tone(
                    f,
                    dur + 0.15,
                    sr,
                    _partials("piano", p.brightness, 8),
                    decay=3.0,
                    attack=0.002,
                    release=0.05,
                )
            _add(lead, t, sig, sr, 0.5)
        # tension stutters: a jittered grid
        t += step * float(np.exp(rng.normal(0, 0.25 * p.dissonance)))

    # --- drums --------------------------------------------------------------------------
    if genre != "classical":
        kick, snare, hat = _kick(sr, rng, soft=genre == "pop"), _snare(sr, rng), _hat(sr, rng)
        n_beats = int(seconds / beat) + 1
        for q in range(n_beats):
            tq = q * beat
            if genre == "electronic":
                _add(drums, tq, kick, sr, 1.0)
                _add(drums, tq + beat / 2, hat, sr, 0.35)
                if q % 2 == 1:
                    _add(drums, tq, snare, sr, 0.35)
            elif genre == "rock":
                _add(drums, tq, kick if q % 2 == 0 else snare, sr, 0.9)
                _add(drums, tq, hat, sr, 0.3)
                _add(drums, tq + beat / 2, hat, sr, 0.3)
            else:  # pop: light drums
                if q % 4 == 0:
                    _add(drums, tq, kick, sr, 0.5)
                if q % 2 == 1:
                    _add(drums, tq, snare, sr, 0.2)
                _add(drums, tq + beat / 2, hat, sr, 0.1)

    mix = lead + harm + drums
    mix += rng.standard_normal(n) * 10 ** (rng.uniform(-70, -55) / 20)  # room noise
    rms = float(np.sqrt(np.mean(mix**2))) or 1.0
    y = mix * (p.gain / rms)
    y = np.tanh(y / 0.9) * 0.9  # soft limiter: loud clips compress, never clip
    return y.astype(np.float32)


def track_rng(seed: int, track_id: str) -> np.random.Generator:
    """An independent generator per track: a clip does not depend on which others are made."""
    return np.random.default_rng([int(seed), zlib.crc32(track_id.encode("utf-8"))])


def synthesise(track: dict, seconds: float, sr: int, seed: int) -> tuple[np.ndarray, ClipParams]:
    """The clip for one demo-catalog row (``track_id``, ``genre``, ``primary_emotion`` and the
    GEMS-6 marks)."""
    rng = track_rng(seed, str(track["track_id"]))
    marks = {e: int(track[e]) for e in GEMS6}
    params = clip_params(str(track["genre"]), marks, rng, track.get("primary_emotion"))
    return render(params, seconds, sr, rng), params
