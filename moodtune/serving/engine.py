"""What each endpoint of the service does, as plain Python.

:class:`Engine` turns validated input into answers, using the :class:`ModelSet` that is
serving when the request starts. Every bad input raises a :class:`~moodtune.errors.MoodtuneError`
whose message says what to fix (the service maps its ``status_code`` to the response).
Nothing here reads a path a client names: uploads arrive as bytes (:class:`Upload`), catalog
audio is looked up by track id.

Recommendation events are logged through the :class:`EventWriter` before the answer is
returned, so a ``recommendation_id`` the client sees is committed and feedback can refer to
it at once.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from moodtune.emotions import GEMS6, display_name
from moodtune.errors import InvalidAudio, InvalidHRV, InvalidInput, InvalidText
from moodtune.policy.ranking import softmax
from moodtune.serving.catalog import SONG_COLUMNS, logged_features, profile_json, song_profile
from moodtune.serving.eventlog import EventWriter, RecommendationEvent, encode_candidates
from moodtune.serving.models import HRV, ModelHolder, ModelSet

MOODS = {1: "sad", 2: "low", 3: "neutral", 4: "good", 5: "happy"}
STRESS_LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class Upload:
    """An uploaded file: the name the client gave (shown, never opened) and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Listener:
    age: int
    gender: str  # "female" / "male"
    mood: int
    context: Any  # moodtune.policy.features.ListenerContext


@dataclass(frozen=True)
class Plan:
    """A recommendation computed but not yet logged: the answer minus its id, and the event."""

    answer: dict[str, Any]
    event: RecommendationEvent | None
    profiles_json: tuple[str, ...] = ()  # answer["tracks"][i]["profile"] as JSON text, when known

    def complete(self, recommendation_id: str | None) -> dict[str, Any]:
        return {**self.answer, "recommendation_id": recommendation_id}

    def json(self, recommendation_id: str | None) -> bytes:
        """The completed answer as compact JSON, reusing the profiles' pre-encoded text."""
        tracks = self.answer.get("tracks")
        if not tracks or len(self.profiles_json) != len(tracks):
            return _dumps(self.complete(recommendation_id)).encode()
        try:
            return orjson.dumps({**self.answer, "recommendation_id": recommendation_id, "tracks": [
                {**t, "profile": orjson.Fragment(pj)} for t, pj in zip(tracks, self.profiles_json, strict=True)]})
        except TypeError:  # a value orjson does not take: the general path
            return _dumps(self.complete(recommendation_id)).encode()


def _dumps(value: Any) -> str:
    """Compact JSON text (orjson; the standard library for what orjson does not take)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


ADJECTIVES = {"tenderness": "tender", "calmness": "calm", "power": "powerful", "joyful_activation": "joyful",
              "tension": "tense", "sadness": "sad"}


def _pretty(emotion: str) -> str:
    return ADJECTIVES.get(emotion, emotion.replace("_", " "))


class Engine:
    """The service's logic over a :class:`ModelHolder` and an :class:`EventWriter`."""

    def __init__(self, settings, holder: ModelHolder, writer: EventWriter | None):
        self.settings = settings
        self.limits = settings.service
        self.holder = holder
        self.writer = writer
        self._summaries: dict[str, str] = {}
        self._summary_catalog = None
        self._scorer = None  # (policy, its scores function): kept with the policy it belongs to

    # ------------------------------------------------------------------ validation

    def check_k(self, k: Any) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise InvalidInput(f"k must be a whole number from 1 to {self.limits.max_k}; got {k!r}")
        if not 1 <= int(k) <= self.limits.max_k:
            raise InvalidInput(f"k must be from 1 to {self.limits.max_k}; got {k}")
        return int(k)

    def listener(self, age: Any, gender: Any, mood: Any) -> Listener:
        from moodtune.policy.features import ListenerContext

        if isinstance(mood, bool) or not isinstance(mood, (int, float, np.integer, np.floating)) \
                or not float(mood).is_integer() or not 1 <= float(mood) <= 5:
            raise InvalidInput(f"mood must be a whole number from 1 (sad) to 5 (happy); got {mood!r}")
        if isinstance(age, bool) or not isinstance(age, (int, float, np.integer, np.floating)) \
                or not float(age).is_integer():
            raise InvalidInput(f"age must be a whole number of years; got {age!r}")
        context = ListenerContext.parse(age, gender, mood)
        return Listener(int(age), "male" if context.gender == 1 else "female", int(mood), context)

    def optional_listener(self, age: Any, gender: Any, mood: Any) -> Listener | None:
        given = [v is not None and v != "" for v in (age, gender, mood)]
        if not any(given):
            return None
        if not all(given):
            raise InvalidInput("give age, gender and mood together (to log the recommendation for "
                               "feedback), or none of them")
        return self.listener(age, gender, mood)

    def check_text(self, text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise InvalidText("text is empty: write a sentence (in Chinese) about how you feel")
        if len(text) > self.limits.max_text_chars:
            raise InvalidText(f"text has {len(text)} characters; keep it to {self.limits.max_text_chars}")
        return text

    def check_upload(self, upload: Upload, what: str, limit: int | None = None) -> Upload:
        limit = limit or self.limits.max_file_bytes
        if len(upload.data) == 0:
            raise InvalidInput(f"{what} {upload.name!r} is empty; upload the file itself")
        if len(upload.data) > limit:
            raise InvalidInput(f"{what} {upload.name!r} is {len(upload.data):,} bytes; the limit is {limit:,}")
        return upload

    def check_track_ids(self, track_ids: Any) -> list[str]:
        if track_ids is None:
            return []
        if isinstance(track_ids, str) or not isinstance(track_ids, Sequence):
            raise InvalidInput("track_ids must be a list of catalog track ids")
        if len(track_ids) > self.limits.max_playlist:
            raise InvalidInput(f"the playlist has {len(track_ids)} tracks; the limit is {self.limits.max_playlist}")
        out = []
        for t in track_ids:
            if not isinstance(t, str) or not t.strip() or len(t) > 200:
                raise InvalidInput(f"track ids must be non-empty strings of at most 200 characters; got {t!r}")
            out.append(t.strip())
        return out

    # ------------------------------------------------------------------ recommend

    def _upload_profiles(self, ms: ModelSet, uploads: Sequence[Upload]) -> tuple[list[str], np.ndarray, list[dict]]:
        if len(uploads) > self.limits.max_files:
            raise InvalidInput(f"{len(uploads)} files uploaded; the limit is {self.limits.max_files} per playlist")
        ids, rows, profiles, seen = [], [], [], {}
        for up in uploads:
            self.check_upload(up, "audio file")
            digest = hashlib.sha256(up.data).hexdigest()[:16]
            track_id = f"upload-{digest}"
            if track_id in seen:
                raise InvalidAudio(f"{up.name!r} and {seen[track_id]!r} are the same audio; upload each song once")
            seen[track_id] = up.name
            try:
                probs = ms.audio.analyze(up.data, name=up.name)
            except InvalidAudio as exc:
                raise InvalidAudio(f"{up.name}: {exc}") from None
            values = [float(probs[c]) for c in SONG_COLUMNS]
            ids.append(track_id)
            rows.append(values)
            profiles.append(song_profile(track_id, dict(zip(SONG_COLUMNS, values, strict=True)), title=up.name))
        return ids, np.asarray(rows, dtype=float).reshape(-1, len(SONG_COLUMNS)), profiles

    def plan_recommend(self, *, track_ids: Any = None, uploads: Sequence[Upload] = (), age: Any, gender: Any,
                       mood: Any, k: Any = None) -> Plan:
        """Rank a playlist (catalog ids and/or uploaded songs) for a listener; the event to log."""
        ms = self.holder.current
        k = self.check_k(self.limits.default_k if k is None else k)
        who = self.listener(age, gender, mood)
        ids = self.check_track_ids(track_ids)
        uploads = list(uploads or ())
        if not ids and not uploads:
            raise InvalidInput("the playlist is empty: give catalog track_ids or upload audio files")
        if len(ids) + len(uploads) > self.limits.max_playlist:
            raise InvalidInput(f"the playlist has {len(ids) + len(uploads)} songs; the limit is "
                               f"{self.limits.max_playlist}")
        catalog = ms.catalog
        rows = catalog.rows(ids)
        features = catalog.features[rows]
        profiles = [catalog.profiles[i] for i in rows]
        logged = [catalog.logged_features[i] for i in rows]
        logged_json = [catalog.features_json[i] for i in rows]
        profiles_json = [catalog.profiles_json[i] for i in rows]
        if uploads:
            up_ids, up_features, up_profiles = self._upload_profiles(ms, uploads)
            clash = set(up_ids) & set(ids)
            if clash:
                raise InvalidInput(f"track {sorted(clash)[0]!r} is both a catalog id and an upload")
            ids = ids + up_ids
            features = np.vstack([features, up_features])
            profiles = profiles + up_profiles
            up_logged = [logged_features(row) for row in up_features]
            logged += up_logged
            logged_json += [json.dumps(f) for f in up_logged]
            profiles_json += [profile_json(p) for p in up_profiles]
        policy = ms.policy
        scores = np.asarray(self.scorer(policy)(features, who.context), dtype=float).reshape(-1)
        if scores.shape != (len(ids),) or not np.all(np.isfinite(scores)):
            raise InvalidInput("the policy could not score this playlist (non-finite scores)")
        probs = softmax(scores, policy.temperature)  # = PolicyRanker.rank, without the DataFrame
        order = np.argsort(-scores, kind="stable")
        n = len(order)
        versions = ms.versions
        head = f"for a {who.age}-year-old {who.gender} in mood {who.mood}/5 ({MOODS[who.mood]})"
        self._use_catalog(catalog)
        tracks, chosen_json = [], []
        for rank, i in enumerate(order[: min(k, n)], start=1):
            profile = profiles[i]
            p = float(probs[i])
            tracks.append({
                "rank": rank,
                "track_id": ids[i],
                "score": round(float(scores[i]), 6),
                "probability": round(p, 6),
                "reason": f"#{rank} of {n} {head}: {self.summary(profile)}; "
                          f"the policy picks it first with probability {p:.2f}",
                "profile": profile,
            })
            chosen_json.append(profiles_json[i])
        # every candidate with what the policy saw (to 1e-6), its score and choice probability;
        # the JSON text is assembled from the catalog's pre-encoded features (json.dumps format)
        score_list, prob_list = scores.tolist(), probs.tolist()
        candidates = [{"track_id": ids[i], "features": logged[i], "score": score_list[i],
                       "probability": prob_list[i]} for i in order]
        candidates_json = encode_candidates(
            [(ids[i], logged_json[i], score_list[i], prob_list[i]) for i in order])
        event = RecommendationEvent(
            source="upload" if uploads else "catalog", age=who.age, gender=who.gender, mood=who.mood,
            candidates=candidates, chosen=[t["track_id"] for t in tracks], model_versions=versions,
            candidates_json=candidates_json,
        )
        answer = {
            "tracks": tracks,
            "k": len(tracks),
            "requested_k": k,
            "candidates": n,
            "listener": {"age": who.age, "gender": who.gender, "mood": who.mood, "mood_name": MOODS[who.mood]},
            "model_versions": versions,
            "source": event.source,
        }
        return Plan(answer, event, tuple(chosen_json))

    def summary(self, profile: Mapping[str, Any]) -> str:
        """Why a song suits: its strongest emotions, its genre and what its texts say (cached
        per catalog track; uploads are computed each time)."""
        key = profile["track_id"]
        cached = self._summaries.get(key) if profile.get("source") != "upload" else None
        if cached is not None:
            return cached
        emotions = sorted(GEMS6, key=lambda e: -profile["emotions"][e])[: self.limits.reason_top]
        sound = " and ".join(f"{_pretty(e)} ({profile['emotions'][e]:.2f})" for e in emotions)
        genre = profile["genre"]
        parts = [f"sounds {sound}", f"{genre} ({profile['genres'][genre]:.2f})"]
        text = profile.get("text")
        if text and text.get("top"):
            words = ", ".join(text.get("keywords", [])[:3])
            parts.append(f"its texts read {text.get('top_name') or text['top']}" + (f" ({words})" if words else ""))
        out = "; ".join(parts)
        if profile.get("source") != "upload":
            self._summaries[key] = out
        return out

    def scorer(self, policy):
        """``policy.scores`` or its checked fast path (built once per policy object)."""
        held = self._scorer
        if held is None or held[0] is not policy:
            from moodtune.serving.fastpolicy import fast_scorer

            held = self._scorer = (policy, fast_scorer(policy))
        return held[1]

    def _use_catalog(self, catalog) -> None:
        """Summaries are cached per track of one catalog: a new catalog starts a new cache (the
        engine keeps the catalog it cached for, so its identity is never reused)."""
        if catalog is not self._summary_catalog:
            self._summaries = {}
            self._summary_catalog = catalog

    # ------------------------------------------------------------------ text and photo

    def _hit_tracks(self, ms: ModelSet, hits: Sequence[Any], why: str) -> list[dict[str, Any]]:
        catalog = ms.catalog
        out = []
        for rank, h in enumerate(hits, start=1):
            profile = catalog.profile(h.track_id) if h.track_id in catalog else None
            out.append({
                "rank": rank, "track_id": h.track_id, "name": h.name, "artists": h.artists,
                "distance": round(float(h.distance), 6), "score": round(0.0 - float(h.distance), 6),
                "in_catalog": profile is not None, "profile": profile,
                "reason": f"#{rank}: {why}; emotion distance {float(h.distance):.3f}",
            })
        return out

    @staticmethod
    def _profiles_json(ms: ModelSet, tracks: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
        catalog = ms.catalog
        return tuple(catalog.profiles_json[catalog.positions[t["track_id"]]] if t["profile"] is not None else "null"
                     for t in tracks)

    def _text_event(self, source: str, who: Listener | None, ms: ModelSet, tracks: list[dict]) -> RecommendationEvent | None:
        if who is None or not tracks:
            return None
        candidates = [{"track_id": t["track_id"],
                       "features": ({c: float(t["profile"]["emotions"].get(c, t["profile"]["genres"].get(c, 0.0)))
                                     for c in SONG_COLUMNS} if t["profile"] else {}),
                       "score": t["score"], "probability": None} for t in tracks]
        return RecommendationEvent(source=source, age=who.age, gender=who.gender, mood=who.mood,
                                   candidates=candidates, chosen=[t["track_id"] for t in tracks],
                                   model_versions=ms.versions)

    def plan_text(self, text: Any, k: Any = None, *, age: Any = None, gender: Any = None, mood: Any = None) -> Plan:
        """Chinese text -> its emotion (with the keywords behind it) -> the nearest tracks."""
        ms = self.holder.current
        k = self.check_k(self.limits.default_k if k is None else k)
        text = self.check_text(text)
        who = self.optional_listener(age, gender, mood)
        index = ms.text
        rec = index.recommend_text(text, k)
        vector = rec.vector
        top = [{"code": c, "name": display_name(c), "strength": round(v, 4)} for c, v in vector.top(3)]
        why = f"its emotion is closest to the text's ({', '.join(t['name'] for t in top[:2])})"
        tracks = self._hit_tracks(ms, rec.hits, why)
        answer = {
            "emotion": {c: round(v, 4) for c, v in vector.as_dict().items()},
            "granularity": vector.granularity,
            "top_emotions": top,
            "keywords": [{"word": kw.word, "tfidf": round(float(kw.tfidf), 6), "weight": round(float(kw.weight), 6),
                          "contributions": {c: round(float(v), 6) for c, v in kw.contributions.items()}}
                         for kw in rec.emotion.keywords],
            "negated": list(rec.emotion.negated),
            "tracks": tracks,
            "model_versions": {n: ms.versions[n] for n in ("moodtune-text-index",)},
        }
        return Plan(answer, self._text_event("text", who, ms, tracks), self._profiles_json(ms, tracks))

    def plan_image(self, upload: Upload, k: Any = None, *, age: Any = None, gender: Any = None,
                   mood: Any = None) -> Plan:
        """A photo -> the faces, their expressions and the people's emotion -> the nearest tracks.

        No face in the photo is :class:`moodtune.image.NoPersonFound` (422), not a guess."""
        from moodtune.image import recommend_from_image

        ms = self.holder.current
        k = self.check_k(self.limits.default_k if k is None else k)
        self.check_upload(upload, "photo", min(self.limits.max_file_bytes, self.settings.image.max_bytes))
        who = self.optional_listener(age, gender, mood)
        result = recommend_from_image(upload.data, ms.face, ms.text, k, settings=self.settings)
        emotion = result.emotion.as_dict()
        top = [{"code": c, "name": display_name(c), "strength": round(v, 4)} for c, v in result.query.top(3)]
        why = f"its emotion is closest to the photo's ({', '.join(t['name'] for t in top[:2])})"
        tracks = self._hit_tracks(ms, result.tracks, why)
        answer = {
            **{key: emotion[key] for key in ("message", "width", "height", "faces", "emotion", "emotion_coarse",
                                             "valence", "arousal") if key in emotion},
            "top_emotions": [{"code": c, "name": display_name(c), "strength": round(v, 4)}
                             for c, v in result.emotion.emotion.top(3)],
            "query_emotion": {c: round(v, 4) for c, v in result.query.as_dict().items()},
            "query_top": top,
            "tracks": tracks,
            "model_versions": {n: ms.versions[n] for n in ("moodtune-face", "moodtune-text-index")},
        }
        return Plan(answer, self._text_event("image", who, ms, tracks), self._profiles_json(ms, tracks))

    # ------------------------------------------------------------------ analysis

    def analyze_audio(self, upload: Upload) -> dict[str, Any]:
        ms = self.holder.current
        self.check_upload(upload, "audio file")
        probs = ms.audio.analyze(upload.data, name=upload.name)
        profile = song_profile(f"upload-{hashlib.sha256(upload.data).hexdigest()[:16]}",
                               {c: float(probs[c]) for c in SONG_COLUMNS}, title=upload.name)
        return {**profile, "model_versions": {"moodtune-audio": ms.versions["moodtune-audio"]}}

    def read_hrv(self, ms: ModelSet, *, rr: Any = None, metrics: Any = None,
                 upload: Upload | None = None) -> dict[str, Any]:
        """Exactly one of RR intervals (ms), the eight metrics, or an uploaded file -> the stress
        level, its probabilities and the metrics it was read from."""
        from moodtune.hrv import METRIC_COLUMNS
        from moodtune.hrv.data import parse_rr_text, validate_metrics

        given = [name for name, v in (("rr", rr), ("metrics", metrics), ("file", upload)) if v is not None]
        if len(given) != 1:
            raise InvalidHRV("give exactly one of rr (RR intervals in ms), metrics (the eight HRV metrics) "
                             f"or an RR/metrics CSV file; got {', '.join(given) or 'none'}")
        source = "rr"
        if upload is not None:
            self.check_upload(upload, "HRV file", self.limits.max_hrv_bytes)
            try:
                text = upload.data.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise InvalidHRV(f"{upload.name!r} is not a text file; upload RR intervals (ms, one per line) "
                                 "or a CSV with the eight metrics") from None
            header = text.lstrip().splitlines()[0].lower() if text.strip() else ""
            if any(m.lower() in header for m in METRIC_COLUMNS if len(m) > 2):
                try:
                    frame = pd.read_csv(io.StringIO(text), sep=None, engine="python")
                except Exception as exc:  # pandas raises several parser errors
                    raise InvalidHRV(f"{upload.name!r} is not a readable CSV ({exc})") from None
                metrics_frame = validate_metrics(frame, upload.name)
                source = "metrics"
            else:
                rr = parse_rr_text(text, upload.name)
        if metrics is not None:
            if not isinstance(metrics, Mapping):
                raise InvalidHRV(f"metrics must be an object with the eight metrics {', '.join(METRIC_COLUMNS)}")
            bad = [k for k, v in metrics.items() if isinstance(v, bool) or not isinstance(v, (int, float))]
            if bad:
                raise InvalidHRV(f"metric {bad[0]!r} must be a number; got {metrics[bad[0]]!r}")
            metrics_frame = validate_metrics(pd.DataFrame([dict(metrics)]), "the metrics")
            source = "metrics"
        if source == "rr":
            if isinstance(rr, (str, bytes)) or not isinstance(rr, (Sequence, np.ndarray)):
                raise InvalidHRV("rr must be a list of RR intervals in milliseconds")
            if len(rr) > self.limits.max_rr_intervals:
                raise InvalidHRV(f"{len(rr)} RR intervals; the limit is {self.limits.max_rr_intervals}")
            try:
                values = np.asarray(rr, dtype=float)
            except (TypeError, ValueError):
                raise InvalidHRV("rr must hold numbers (RR intervals in milliseconds)") from None
            table = ms.hrv.read(values)
            proba = table[["p_low", "p_medium", "p_high"]].to_numpy(dtype=float)
            used = {m: float(table[m].iloc[0]) for m in METRIC_COLUMNS}
            extra = {k: _plain(table[k].iloc[0]) for k in table.columns
                     if k not in METRIC_COLUMNS and k not in ("level", "p_low", "p_medium", "p_high")}
        else:  # validated above (names, numbers, plausible ranges): the reader's batch path
            proba = np.asarray(ms.hrv.predict_proba(metrics_frame), dtype=float).reshape(-1, len(STRESS_LEVELS))
            used = {m: float(metrics_frame[m].mean()) for m in METRIC_COLUMNS}
            extra = {}
        probs = proba.mean(axis=0)
        level = STRESS_LEVELS[int(np.argmax(probs))]
        return {
            "level": level,
            "probabilities": {lvl: round(float(p), 6) for lvl, p in zip(STRESS_LEVELS, probs, strict=True)},
            "metrics": {k: round(v, 6) for k, v in used.items()},
            "source": source,
            "rows": len(proba),
            "per_row": [{"level": STRESS_LEVELS[int(np.argmax(row))], "p_low": float(row[0]), "p_medium": float(row[1]),
                         "p_high": float(row[2])} for row in proba[:50]],
            **({"recording": extra} if extra else {}),
        }

    def analyze_hrv(self, *, rr: Any = None, metrics: Any = None, upload: Upload | None = None) -> dict[str, Any]:
        ms = self.holder.current
        return {**self.read_hrv(ms, rr=rr, metrics=metrics, upload=upload),
                "model_versions": {HRV: ms.versions[HRV]}}

    # ------------------------------------------------------------------ feedback

    def plan_feedback(self, *, recommendation_id: Any, track_id: Any, rr: Any = None, metrics: Any = None,
                      upload: Upload | None = None, stress_level: Any = None,
                      client_key: Any = None) -> tuple[dict[str, Any], dict]:
        """The stress level of the listener's response (read from HRV, or stated) and the
        keyword arguments of :meth:`FeedbackStore.record_feedback` (which checks ``client_key``)."""
        ms = self.holder.current
        if not isinstance(recommendation_id, str) or not recommendation_id.strip():
            raise InvalidInput("recommendation_id is missing: give the id a recommend call returned")
        if not isinstance(track_id, str) or not track_id.strip():
            raise InvalidInput("track_id is missing: give the id of the recommended track you listened to")
        has_hrv = any(v is not None for v in (rr, metrics, upload))
        if has_hrv and stress_level is not None:
            raise InvalidInput("give either HRV (rr, metrics or a file) or an explicit stress_level, not both")
        if not has_hrv and stress_level is None:
            raise InvalidInput("give HRV (rr intervals, the eight metrics or a file) or an explicit "
                               "stress_level (low, medium, high)")
        reading = None
        versions: dict[str, str] = {}
        if has_hrv:
            reading = self.read_hrv(ms, rr=rr, metrics=metrics, upload=upload)
            kwargs = {"stress_level": reading["level"], "metrics": reading["metrics"],
                      "probabilities": reading["probabilities"], "source": reading["source"]}
            versions[HRV] = ms.versions[HRV]
        else:
            level = str(stress_level).strip().lower() if isinstance(stress_level, str) else stress_level
            if level not in STRESS_LEVELS:
                raise InvalidInput(f"stress_level must be one of low, medium, high; got {stress_level!r}")
            kwargs = {"stress_level": level, "source": "explicit"}
        kwargs.update(recommendation_id=recommendation_id.strip(), track_id=track_id.strip(),
                      model_versions=versions, client_key=client_key)
        return ({"reading": reading}, kwargs)

    @staticmethod
    def feedback_answer(row, reading: dict[str, Any] | None) -> dict[str, Any]:
        out = row.as_dict()
        out["created_at"] = out["created_at"].isoformat()
        out["reading"] = reading
        return out

    # ------------------------------------------------------------------ synchronous helpers

    def _log(self, plan: Plan) -> dict[str, Any]:
        if plan.event is None or self.writer is None:
            return plan.complete(None)
        return plan.complete(self.writer.record_recommendation(plan.event))

    def recommend(self, **kwargs: Any) -> dict[str, Any]:
        return self._log(self.plan_recommend(**kwargs))

    def recommend_text(self, text: Any, k: Any = None, **listener: Any) -> dict[str, Any]:
        return self._log(self.plan_text(text, k, **listener))

    def recommend_image(self, upload: Upload, k: Any = None, **listener: Any) -> dict[str, Any]:
        return self._log(self.plan_image(upload, k, **listener))

    def feedback(self, **kwargs: Any) -> dict[str, Any]:
        if self.writer is None:
            raise InvalidInput("this service has no feedback store")
        extra, store_kwargs = self.plan_feedback(**kwargs)
        return self.feedback_answer(self.writer.record_feedback(**store_kwargs), extra["reading"])

    def models(self) -> dict[str, Any]:
        ms = self.holder.current
        out = {**ms.describe(), "swaps": self.holder.swaps, "last_error": self.holder.last_error}
        if self.writer is not None:  # this worker's writes: group commits make commits < rows
            out["event_log"] = {"commits": self.writer.commits, "rows": self.writer.rows,
                                "largest_batch": self.writer.largest_batch}
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value

