"""What each endpoint of the service does, as plain Python.

:class:`Engine` turns validated requests (:mod:`moodtune.serving.requests`) into answers, using
the :class:`~moodtune.serving.models.ModelSet` that is serving when the request starts. A bad
input the request model cannot see (an unknown track id, audio that does not decode, a photo
without a face) raises a :class:`~moodtune.errors.MoodtuneError` whose message says what to fix
(the service maps its ``status_code`` to the response). Nothing here reads a path a client
names: uploads arrive as bytes (:class:`~moodtune.serving.answers.Upload`), catalog audio is
looked up by track id.

Each public method takes its endpoint's request model and answers with its response model
(:mod:`moodtune.serving.responses`), built with ``model_construct``. Each ``plan_*`` returns a
:class:`~moodtune.serving.answers.Plan` of its answer: the answer and the recommendation event
the caller logs (through the :class:`~moodtune.serving.eventlog.EventWriter`) before answering,
so a ``recommendation_id`` the client sees is committed and feedback can refer to it at once.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast, get_args, get_origin, get_type_hints

import numpy as np
import pandas as pd
from pydantic import BaseModel

from moodtune.emotions import EmotionVector, display_name, va_points
from moodtune.errors import InvalidAudio, InvalidInput
from moodtune.feedback import RecommendationEvent
from moodtune.policy.ranking import rank_with_scores, served_probabilities
from moodtune.serving.answers import Plan, Upload, build
from moodtune.serving.catalog import SONG_COLUMNS, logged_features, profile_json, song_profile
from moodtune.serving.eventlog import EventWriter, encode_candidates
from moodtune.serving.hrvbatch import MetricsReadings
from moodtune.serving.hrvreading import read_hrv
from moodtune.serving.models import AUDIO, FACE, HRV, SHADOW, TEXT, ModelHolder, ModelSet
from moodtune.serving.reasons import MOODS, Summaries, named_emotions
from moodtune.serving.requests import (
    AnalyzeAudioRequest,
    AnalyzeHrvRequest,
    FeedbackRequest,
    ModelsRequest,
    RecommendImageRequest,
    RecommendRequest,
    RecommendTextRequest,
    Request,
)
from moodtune.serving.responses import (
    AudioAnalysis,
    HrvAnalysis,
    ImageRecommendation,
    Recommendation,
    ServingModels,
    StoredFeedback,
    TextRecommendation,
)
from moodtune.state import Observation, StateEstimate, estimate, from_mood, from_point, from_reading

Listened = RecommendTextRequest | RecommendImageRequest  # the requests whose listener is optional
AnswerT = TypeVar("AnswerT", TextRecommendation, ImageRecommendation)  # the answers of a calm plan

__all__ = ["Engine", "Plan", "Upload", "first_pick_words", "match_percent"]


def _va_point(va) -> dict[str, float] | None:
    """The text's valence-arousal point (-1..1 each), when its rules gave one."""
    return None if va is None else {"valence": round(float(va[0]), 4), "arousal": round(float(va[1]), 4)}


def _text_point(emotion, vector) -> tuple[float, float]:
    """The text's valence-arousal point: its words' EmoBank ratings, else its categories' points."""
    va = getattr(emotion, "va", None)
    if va is not None:
        return float(va[0]), float(va[1])
    weights = np.asarray(list(vector.as_dict().values()), dtype=float)
    point = weights @ va_points(vector.granularity) / max(float(weights.sum()), 1e-12)
    return float(point[0]), float(point[1])


def match_percent(score: float, low: float, high: float) -> int:
    """A score on a 0-100 scale within its playlist: 100 the policy's favourite, 0 its least
    favourite (the policy's scores are relative: only their order and differences mean anything)."""
    if high - low < 1e-12:
        return 100
    return int(round(100 * (score - low) / (high - low)))


def first_pick_words(probability: float) -> str:
    """The chance the policy picks a track first, in words (no "probability 0.00")."""
    percent = round(probability * 100)
    if percent >= 100:
        return "the policy is all but certain to pick it first"
    if percent < 1:
        return "the policy would rarely pick it first (less than a 1 in 100 chance)"
    return f"the policy picks it first {percent}% of the time"


class Engine:
    """The service's logic over a :class:`ModelHolder` and an :class:`EventWriter`."""

    def __init__(
        self,
        settings,
        holder: ModelHolder,
        writer: EventWriter | None,
        readings: MetricsReadings | None = None,
    ):
        self.settings = settings
        self.limits = settings.service
        self.holder = holder
        self.writer = writer
        self.readings = readings  # concurrent feedback metrics read together (hrvbatch); None: each alone
        self.summary = Summaries(self.limits.reason_top)
        self._scorers: dict[int, tuple] = {}  # id(policy) -> (policy, its scores function)
        # draws the explored first tracks (policy.exploration): each worker its own unseeded stream,
        # unless policy.exploration_seed is set (see _exploration)
        self._explore = np.random.default_rng()

    @classmethod
    def method_for(cls, request: type[Request]) -> Callable[..., Any] | None:
        """The method that answers ``request``: the one whose first parameter is of that class
        and whose return type is an answer model or a :class:`Plan` of one (``None``: none)."""
        for name, method in vars(cls).items():
            if name.startswith("_") or not callable(method):
                continue
            try:
                hints = get_type_hints(method)
            except (NameError, TypeError):
                continue
            params = [p for p in inspect.signature(method).parameters if p != "self"]
            returns = hints.get("return")
            answers = get_origin(returns) is Plan or (
                isinstance(returns, type) and issubclass(returns, BaseModel)
            )
            if params and hints.get(params[0]) is request and answers:
                return method
        return None

    @classmethod
    def answer_for(cls, request: type[Request]) -> type[BaseModel] | None:
        """The response model of the method that answers ``request`` (``None``: none does)."""
        method = cls.method_for(request)
        if method is None:
            return None
        returns = get_type_hints(method)["return"]
        return get_args(returns)[0] if get_origin(returns) is Plan else returns

    def _check_upload(self, upload: Upload, what: str, limit: int | None = None) -> Upload:
        limit = limit or self.limits.max_file_bytes
        if len(upload.data) == 0:
            raise InvalidInput(f"{what} {upload.name!r} is empty; upload the file itself")
        if len(upload.data) > limit:
            raise InvalidInput(
                f"{what} {upload.name!r} is {len(upload.data):,} bytes; the limit is {limit:,}"
            )
        return upload

    def _check_audio(self, upload: Upload) -> Upload:
        """Bytes, then the header's sample rate and length, before anything is decoded."""
        from moodtune.audio.decode import check_header

        self._check_upload(upload, "audio file")
        check_header(
            upload.data,
            min_rate=self.limits.audio_min_rate_hz,
            max_rate=self.limits.audio_max_rate_hz,
            max_seconds=self.limits.max_audio_seconds,
            label=repr(upload.name),
        )
        return upload

    # ------------------------------------------------------------------ recommend

    def _upload_profiles(
        self, ms: ModelSet, uploads: Sequence[Upload]
    ) -> tuple[list[str], np.ndarray, list[dict]]:
        if len(uploads) > self.limits.max_files:
            raise InvalidInput(
                f"{len(uploads)} files uploaded; the limit is {self.limits.max_files} per playlist"
            )
        ids, rows, profiles = [], [], []
        seen: dict[str, str] = {}  # track id -> the file that gave it
        for up in uploads:
            self._check_audio(up)
            track_id = f"upload-{hashlib.sha256(up.data).hexdigest()[:16]}"
            if track_id in seen:
                raise InvalidAudio(
                    f"{up.name!r} and {seen[track_id]!r} are the same audio; upload each song once"
                )
            seen[track_id] = up.name
            try:
                probs = ms.audio.analyze(up.data, name=up.name)
            except InvalidAudio as exc:
                raise InvalidAudio(f"{up.name}: {exc}") from None
            values = [float(probs[c]) for c in SONG_COLUMNS]
            ids.append(track_id)
            rows.append(values)
            profiles.append(
                song_profile(track_id, dict(zip(SONG_COLUMNS, values, strict=True)), title=up.name)
            )
        return ids, np.asarray(rows, dtype=float).reshape(-1, len(SONG_COLUMNS)), profiles

    def plan_recommend(self, req: RecommendRequest, uploads: Sequence[Upload] = ()) -> Plan[Recommendation]:
        """Rank a playlist (catalog ids and/or uploaded songs) for a listener; the event to log."""
        from moodtune.policy.features import ListenerContext

        ms = self.holder.current
        ids = list(req.track_ids or ())
        uploads = list(uploads or ())
        if not ids and not uploads:
            raise InvalidInput("the playlist is empty: give catalog track_ids or upload audio files")
        if len(ids) + len(uploads) > self.limits.max_playlist:
            raise InvalidInput(
                f"the playlist has {len(ids) + len(uploads)} songs; the limit is {self.limits.max_playlist}"
            )
        state = self._state(ms, req)
        # the form's mood alone gives the state's valence (mood-3)/2, so this is the mood given
        context = ListenerContext.parse(req.age, req.gender, state.policy_mood())
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
        head = f"for a {req.age}-year-old {req.gender} in mood {req.mood}/5 ({MOODS[req.mood]})"
        scores = self._policy_scores(ms, features, [context])
        tracks, chosen_json, candidates, candidates_json = self._ranked(
            ms,
            ids,
            scores,
            profiles,
            logged,
            logged_json,
            profiles_json,
            req.k,
            head,
            shadow=self._shadow_scores(ms, features, [context]),
        )
        versions = ms.versions
        event = RecommendationEvent(
            source="upload" if uploads else "catalog",
            age=req.age,
            gender=req.gender,
            mood=req.mood,
            candidates=candidates,
            chosen=[t["track_id"] for t in tracks],
            model_versions=self._logged_versions(ms),
            candidates_json=candidates_json,
        )
        answer = build(
            Recommendation,
            tracks=tracks,
            k=len(tracks),
            requested_k=req.k,
            candidates=len(ids),
            listener={"age": req.age, "gender": req.gender, "mood": req.mood, "mood_name": MOODS[req.mood]},
            state=state.as_dict(),
            model_versions=versions,
            source=event.source,
        )
        return Plan(answer, event, tuple(chosen_json))

    def _policy_scores(
        self, ms: ModelSet, features: np.ndarray, contexts: Sequence, policy=None
    ) -> np.ndarray:
        """The policy's (or ``policy``'s) scores of ``features``, averaged over ``contexts`` (both
        genders when the listener gave none); :class:`InvalidInput` when they are not finite."""
        score = self.scorer(ms.policy if policy is None else policy)
        scores = np.mean([np.asarray(score(features, c), dtype=float).reshape(-1) for c in contexts], axis=0)
        if scores.shape != (len(features),) or not np.all(np.isfinite(scores)):
            raise InvalidInput("the policy could not score this playlist (non-finite scores)")
        return scores

    def _exploration(self, ids: Sequence[str], scores: np.ndarray) -> np.random.Generator:
        """The stream the explored first track is drawn from. With ``policy.exploration_seed`` set,
        a function of the seed and the request (its tracks and their scores), so that repeated
        traffic is explored alike whatever the order, worker or process that answers it."""
        seed = self.settings.policy.exploration_seed
        if seed is None:
            return self._explore
        request = zlib.crc32("\x1f".join(ids).encode() + np.round(scores, 6).tobytes())
        return np.random.default_rng([seed, request])

    def _ranked(
        self,
        ms: ModelSet,
        ids: Sequence[str],
        scores: np.ndarray,
        profiles: Sequence[dict],
        logged: Sequence[dict],
        logged_json: Sequence[str],
        profiles_json: Sequence[str],
        k: int,
        head: str,
        log: bool = True,
        shadow: np.ndarray | None = None,
    ) -> tuple[list[dict], list[str], list[dict], str]:
        """The top ``k`` tracks with reasons, their profiles' JSON, and (``log``) every candidate
        as logged (what the policy saw, to 1e-6, its score and choice probability, and with
        ``shadow`` scores the probability the shadow challenger would have served it first)."""
        # the served order (epsilon-greedy, policy.exploration) and each song's probability of being
        # served first; without an event to log only the top k are needed (a catalog costs ~1 ms more)
        n = len(ids)
        ranked = rank_with_scores(
            pd.DataFrame(index=range(n)),
            scores,
            self.settings.policy.exploration,
            None if log else k,
            rng=self._exploration(ids, scores),
        )
        order = [int(r.track_id) for r in ranked]
        self.summary.use_catalog(ms.catalog)
        tracks, chosen_json = [], []
        low, high = float(scores.min()), float(scores.max())
        explored = scores[order[0]] < high  # the first song was drawn (exploration), not the best scored
        for rank, r in enumerate(ranked[: min(k, n)], start=1):
            i = order[rank - 1]
            profile = profiles[i]
            why = first_pick_words(r.probability)
            if rank == 1 and explored:
                why = (
                    f"tried first to learn from ({self.settings.policy.exploration:.0%} of recommendations start "
                    f"with a song drawn at random); {why}"
                )
            tracks.append(
                {
                    "rank": rank,
                    "track_id": ids[i],
                    "score": round(r.score, 6),
                    "probability": round(r.probability, 6),
                    "match": match_percent(r.score, low, high),
                    "reason": f"#{rank} of {n} {head}: {self.summary(profile)}; {why}",
                    "profile": profile,
                }
            )
            chosen_json.append(profiles_json[i])
        if not log:
            return tracks, chosen_json, [], ""
        # the JSON text is assembled from the catalog's pre-encoded features (json.dumps format)
        shadow_p = (
            [None] * n
            if shadow is None
            else served_probabilities(shadow, self.settings.policy.exploration).tolist()
        )
        candidates = [
            {
                "track_id": ids[i],
                "features": logged[i],
                "score": r.score,
                "probability": r.probability,
                **({} if shadow is None else {"shadow_probability": shadow_p[i]}),
            }
            for i, r in zip(order, ranked, strict=True)
        ]
        candidates_json = encode_candidates(
            [
                (ids[i], logged_json[i], r.score, r.probability, shadow_p[i])
                for i, r in zip(order, ranked, strict=True)
            ]
        )
        return tracks, chosen_json, candidates, candidates_json

    # ------------------------------------------------------------------ the listener state

    def _state(
        self, ms: ModelSet, req: RecommendRequest | Listened, *observations: Observation
    ) -> StateEstimate:
        """One estimate from the form's mood, the text or photo (``observations``) and an HRV
        recording (``req.rr``) (:mod:`moodtune.state`)."""
        cfg = self.settings.state
        found = list(observations)
        if req.mood is not None:
            found.insert(0, from_mood(req.mood, cfg))
        rr = getattr(req, "rr", None)  # a photo comes without one
        if rr is not None:
            reading = read_hrv(ms.hrv, rr=rr)
            found.append(from_reading(reading["probabilities"], cfg))
        return estimate(found, cfg)

    def _calm_plan(
        self,
        ms: ModelSet,
        req: Listened,
        state: StateEstimate,
        source: str,
        answer: type[AnswerT],
        fields: dict[str, Any],
    ) -> Plan[AnswerT]:
        """The catalog ranked by the policy from ``state`` (toward calm); logged with age and
        gender, and the state's mood (rounded)."""
        from moodtune.policy.features import ListenerContext

        mood = state.policy_mood()
        if req.has_listener:
            contexts = [ListenerContext.parse(req.age, req.gender, mood)]
            who = f"a {req.age}-year-old {req.gender}"
        else:  # no age or gender given: the configured age, both genders' scores averaged
            contexts = [ListenerContext(self.settings.state.unknown_age, g, mood) for g in (0, 1)]
            who = "you"
        catalog = ms.catalog
        ids = list(catalog.positions)
        scores = self._policy_scores(ms, catalog.features, contexts)
        head = f"toward calm for {who}, {state.summary()}"
        tracks, chosen_json, candidates, candidates_json = self._ranked(
            ms,
            ids,
            scores,
            catalog.profiles,
            catalog.logged_features,
            catalog.features_json,
            catalog.profiles_json,
            req.k,
            head,
            log=req.has_listener,
            shadow=self._shadow_scores(ms, catalog.features, contexts) if req.has_listener else None,
        )
        event = None
        if req.has_listener:
            event = RecommendationEvent(
                source=source,
                age=req.age,
                gender=req.gender,
                mood=state.logged_mood(),
                candidates=candidates,
                chosen=[t["track_id"] for t in tracks],
                model_versions=self._logged_versions(ms),
                candidates_json=candidates_json,
            )
        full = build(
            answer,
            **fields,
            mode="calm",
            state=state.as_dict(),
            tracks=tracks,
            candidates=len(ids),
            model_versions=ms.versions,
        )
        return Plan(full, event, tuple(chosen_json))

    def scorer(self, policy):
        """``policy.scores`` or its checked fast path (built once per policy object; the
        champion's and the shadow challenger's are kept, older ones dropped)."""
        held = self._scorers.get(id(policy))
        if held is None or held[0] is not policy:
            from moodtune.serving.fastpolicy import fast_scorer

            if len(self._scorers) >= 2:
                self._scorers.clear()
            held = self._scorers[id(policy)] = (policy, fast_scorer(policy))
        return held[1]

    @staticmethod
    def _logged_versions(ms: ModelSet) -> dict[str, str]:
        """The serving versions, and the shadow challenger's when one ranked too."""
        return ms.versions if ms.shadow is None else {**ms.versions, SHADOW: ms.shadow.version}

    def _shadow_scores(self, ms: ModelSet, features: np.ndarray, contexts: Sequence) -> np.ndarray | None:
        """The shadow challenger's scores of the same songs for the same listener (None: no shadow)."""
        if ms.shadow is None:
            return None
        return self._policy_scores(ms, features, contexts, ms.shadow.obj)

    # ------------------------------------------------------------------ text and photo

    def _hit_tracks(self, ms: ModelSet, hits: Sequence[Any], why: str) -> list[dict[str, Any]]:
        catalog = ms.catalog
        out = []
        for rank, h in enumerate(hits, start=1):
            profile = catalog.profile(h.track_id) if h.track_id in catalog else None
            out.append(
                {
                    "rank": rank,
                    "track_id": h.track_id,
                    "name": h.name,
                    "artists": h.artists,
                    "distance": round(float(h.distance), 6),
                    "score": round(0.0 - float(h.distance), 6),
                    "in_catalog": profile is not None,
                    "profile": profile,
                    "reason": f"#{rank}: {why}; emotion distance {float(h.distance):.3f}",
                }
            )
        return out

    @staticmethod
    def _profiles_json(ms: ModelSet, tracks: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
        catalog = ms.catalog
        return tuple(
            catalog.profiles_json[catalog.positions[t["track_id"]]] if t["profile"] is not None else "null"
            for t in tracks
        )

    @staticmethod
    def _text_event(
        source: str, req: Listened, ms: ModelSet, tracks: list[dict], state: StateEstimate
    ) -> RecommendationEvent | None:
        if not req.has_listener or not tracks:
            return None
        candidates = [
            {
                "track_id": t["track_id"],
                "features": (
                    {
                        c: float(t["profile"]["emotions"].get(c, t["profile"]["genres"].get(c, 0.0)))
                        for c in SONG_COLUMNS
                    }
                    if t["profile"]
                    else {}
                ),
                "score": t["score"],
                "probability": None,
            }
            for t in tracks
        ]
        return RecommendationEvent(
            source=source,
            age=req.age,
            gender=req.gender,
            mood=state.logged_mood(),
            candidates=candidates,
            chosen=[t["track_id"] for t in tracks],
            model_versions=ms.versions,
        )

    def plan_text(self, req: RecommendTextRequest) -> Plan[TextRecommendation]:
        """Chinese text -> its emotion (with the keywords behind it) -> the listener state -> the
        policy's tracks toward calm (``mode: calm``) or the nearest tracks (``mode: match``)."""
        ms = self.holder.current
        index = ms.track_index
        emotion, vector = index.read_text(req.text)
        top = [{"code": c, "name": display_name(c), "strength": round(v, 4)} for c, v in vector.top(3)]
        point = _text_point(emotion, vector)
        state = self._state(
            ms, req, from_point("text", *point, self.settings.state, detail=", ".join(named_emotions(top, 2)))
        )
        answer: dict[str, Any] = {
            "emotion": {c: round(v, 4) for c, v in vector.as_dict().items()},
            "granularity": vector.granularity,
            "top_emotions": top,
            "keywords": [
                {
                    "word": kw.word,
                    "tfidf": round(float(kw.tfidf), 6),
                    "weight": round(float(kw.weight), 6),
                    "contributions": {c: round(float(v), 6) for c, v in kw.contributions.items()},
                }
                for kw in emotion.keywords
            ],
            "negated": list(emotion.negated),
            "valence_arousal": _va_point(getattr(emotion, "va", None)),
        }
        if req.mode == "calm":
            return self._calm_plan(ms, req, state, "text", TextRecommendation, answer)
        why = f"its emotion is closest to the text's ({', '.join(named_emotions(top, 2))})"
        tracks = self._hit_tracks(ms, index.query_vector(vector, req.k, emotion.va), why)
        matched = build(
            TextRecommendation,
            **answer,
            mode="match",
            state=state.as_dict(),
            tracks=tracks,
            model_versions={n: ms.versions[n] for n in (TEXT,)},
        )
        return Plan(
            matched, self._text_event("text", req, ms, tracks, state), self._profiles_json(ms, tracks)
        )

    def plan_image(self, req: RecommendImageRequest, upload: Upload) -> Plan[ImageRecommendation]:
        """A photo -> the faces, their expressions and the people's emotion -> the nearest tracks.

        No face in the photo is :class:`moodtune.image.NoPersonFound` (422), not a guess."""
        from moodtune.image import recommend_from_image

        ms = self.holder.current
        self._check_upload(upload, "photo", min(self.limits.max_file_bytes, self.settings.image.max_bytes))
        result = recommend_from_image(upload.data, ms.face, ms.track_index, req.k, image=self.settings.image)
        emotion = result.emotion.as_dict()
        top = [{"code": c, "name": display_name(c), "strength": round(v, 4)} for c, v in result.query.top(3)]
        state = self._state(
            ms,
            req,
            from_point(
                "photo",
                emotion["valence"],
                emotion["arousal"],
                self.settings.state,
                detail=emotion["message"],
            ),
        )
        answer: dict[str, Any] = {
            **{
                key: emotion[key]
                for key in (
                    "message",
                    "width",
                    "height",
                    "faces",
                    "emotion",
                    "emotion_coarse",
                    "valence",
                    "arousal",
                )
                if key in emotion
            },
            "top_emotions": [
                {"code": c, "name": display_name(c), "strength": round(v, 4)}
                for c, v in cast(EmotionVector, result.emotion.emotion).top(3)
            ],  # found
            "query_emotion": {c: round(v, 4) for c, v in result.query.as_dict().items()},
            "query_top": top,
        }
        if req.mode == "calm":
            return self._calm_plan(ms, req, state, "image", ImageRecommendation, answer)
        why = f"its emotion is closest to the photo's ({', '.join(named_emotions(top, 2))})"
        tracks = self._hit_tracks(ms, result.tracks, why)
        matched = build(
            ImageRecommendation,
            **answer,
            mode="match",
            state=state.as_dict(),
            tracks=tracks,
            model_versions={n: ms.versions[n] for n in (FACE, TEXT)},
        )
        return Plan(
            matched, self._text_event("image", req, ms, tracks, state), self._profiles_json(ms, tracks)
        )

    # ------------------------------------------------------------------ analysis

    def analyze_audio(self, req: AnalyzeAudioRequest, upload: Upload) -> AudioAnalysis:
        """One clip's emotion and genre profile."""
        ms = self.holder.current
        self._check_audio(upload)
        probs = ms.audio.analyze(upload.data, name=upload.name)
        profile = song_profile(
            f"upload-{hashlib.sha256(upload.data).hexdigest()[:16]}",
            {c: float(probs[c]) for c in SONG_COLUMNS},
            title=upload.name,
        )
        return build(AudioAnalysis, **profile, model_versions={AUDIO: ms.versions[AUDIO]})

    @staticmethod
    def _check_sampling_rate(
        req: AnalyzeHrvRequest, upload: Upload | None, baseline: Upload | None = None
    ) -> None:
        if getattr(req, "sampling_rate", None) is not None and upload is None and baseline is None:
            raise InvalidInput(
                "sampling_rate applies only to an uploaded ECG/PPG file (multipart field 'file'); "
                "leave it out with rr, metrics or a stress_level"
            )

    def _read_hrv(
        self, ms: ModelSet, req: AnalyzeHrvRequest, upload: Upload | None, baseline: Upload | None = None
    ) -> dict[str, Any]:
        from moodtune.hrv.reader import InputCaps

        self._check_sampling_rate(req, upload, baseline)
        reader = ms.hrv
        if upload is not None or baseline is not None:  # JSON rr is capped by the request model
            reader = reader.with_caps(
                InputCaps(
                    self.limits.max_rr_intervals, self.limits.max_hrv_rows, self.limits.max_hrv_signal_samples
                )
            )
        for file, what in ((upload, "HRV file"), (baseline, "baseline HRV file")):
            if file is not None:
                self._check_upload(file, what, self.limits.max_hrv_bytes)
                # an uploaded ECG/PPG signal is held to the service's (shorter) duration limit
                reader = reader.with_limits(
                    max_seconds=min(reader.limits.max_seconds, self.limits.max_hrv_signal_seconds)
                )
        return read_hrv(
            reader,
            rr=req.rr,
            metrics=req.metrics,
            upload=upload,
            baseline=baseline,
            sampling_rate=getattr(req, "sampling_rate", None),
        )

    def analyze_hrv(
        self, req: AnalyzeHrvRequest, upload: Upload | None = None, baseline: Upload | None = None
    ) -> HrvAnalysis:
        """``baseline``: the listener's resting recording (RR, ECG or PPG), read against."""
        ms = self.holder.current
        reading = self._read_hrv(ms, req, upload, baseline)
        return build(HrvAnalysis, **reading, model_versions={HRV: ms.versions[HRV]})

    # ------------------------------------------------------------------ feedback

    def plan_feedback(
        self,
        req: FeedbackRequest,
        upload: Upload | None = None,
        reading: dict[str, Any] | None = None,
        baseline: Upload | None = None,
    ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The HRV reading of the listener's response (``None`` for a stated stress level) and
        the keyword arguments of :meth:`FeedbackStore.record_feedback`. ``reading``: the HRV
        already read (the service reads concurrent metrics together, ``hrvbatch``). ``baseline``:
        the listener's resting recording, read against and stored with the row."""
        ms = self.holder.current
        self._check_sampling_rate(req, upload, baseline)
        has_hrv = req.rr is not None or req.metrics is not None or upload is not None
        if has_hrv and req.stress_level is not None:
            raise InvalidInput(
                "give either HRV (rr, metrics or a file) or an explicit stress_level, not both"
            )
        if baseline is not None and not has_hrv:
            raise InvalidInput(
                "a baseline is read with HRV (rr, metrics or a file); with an explicit stress_level "
                "leave it out"
            )
        if not has_hrv and req.stress_level is None:
            raise InvalidInput(
                "give HRV (rr intervals, the eight metrics or a file) or an explicit "
                "stress_level (low, medium, high)"
            )
        versions: dict[str, str] = {}
        if has_hrv:
            reading = reading if reading is not None else self._read_hrv(ms, req, upload, baseline)
            kwargs = {
                "stress_level": reading["level"],
                "metrics": reading["metrics"],
                "probabilities": reading["probabilities"],
                "source": reading["source"],
            }
            if reading.get("baseline"):
                kwargs["baseline"] = reading["baseline"]
            versions[HRV] = ms.versions[HRV]
        else:
            reading, kwargs = None, {"stress_level": req.stress_level, "source": "explicit"}
        kwargs.update(
            recommendation_id=req.recommendation_id,
            track_id=req.track_id,
            model_versions=versions,
            client_key=req.client_key,
        )
        return reading, kwargs

    async def feedback(
        self, req: FeedbackRequest, upload: Upload | None = None, baseline: Upload | None = None
    ) -> StoredFeedback:
        """Read the listener's response (:meth:`plan_feedback`), store it through the event
        writer and answer with the stored row once it is committed. HRV with a ``baseline`` or
        from ``rr``/a file is read in a worker thread (a few ms); bare ``metrics`` are read
        together with the concurrent ones (:attr:`readings`, when the engine has them); a stated
        stress level needs no reading."""
        import anyio

        if self.writer is None:
            raise RuntimeError("feedback is stored through the event writer; this engine has none")
        if baseline is not None:  # read against the listener's rest (and stored with the row)
            reading, kwargs = await anyio.to_thread.run_sync(self.plan_feedback, req, upload, None, baseline)
        elif (
            self.readings is not None
            and req.metrics is not None
            and req.rr is None
            and upload is None
            and req.stress_level is None
            and req.sampling_rate is None
        ):
            # concurrent metrics are read together: the reader's table checks cost per call, not per row
            read = await self.readings.read(self.holder.current.hrv, req.metrics)
            reading, kwargs = self.plan_feedback(req, reading=read)
        elif (
            req.rr is not None or req.metrics is not None or upload is not None
        ):  # reading HRV takes a few ms
            reading, kwargs = await anyio.to_thread.run_sync(self.plan_feedback, req, upload)
        else:
            reading, kwargs = self.plan_feedback(req)
        row = await self.writer.feedback(**kwargs)
        return self.feedback_answer(row, reading)

    @staticmethod
    def feedback_answer(row, reading: dict[str, Any] | None) -> StoredFeedback:
        out = row.as_dict()
        out["created_at"] = out["created_at"].isoformat()
        return build(StoredFeedback, **out, reading=reading)

    def models(self, req: ModelsRequest) -> ServingModels:
        """The serving model versions, where each came from and when it was loaded."""
        ms = self.holder.current
        writes = {}
        if self.writer is not None:  # this worker's writes: group commits make commits < rows
            writes["event_log"] = {
                "commits": self.writer.commits,
                "rows": self.writer.rows,
                "largest_batch": self.writer.largest_batch,
                "feedback_commits": self.writer.feedback_commits,
            }
        return build(
            ServingModels,
            **ms.describe(),
            swaps=self.holder.swaps,
            last_error=self.holder.last_error,
            **writes,
        )
