"""The answers of the service's endpoints, as pydantic models: the OpenAPI's 200 schemas and
the types the :class:`~moodtune.serving.engine.Engine` answers with.

Each describes exactly what its endpoint returns: an answer model refuses a field it does not
list, and a field that is sometimes left out has a default. The engine builds each answer with
``model_construct`` (no validation on the hot path) and :func:`moodtune.serving.answers.dump`
writes the fields it was given; ``tests/test_service.py`` validates every endpoint's real
answers against these models (``model_validate``), nested parts included.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# BentoML's OpenAPI keeps only the first branch of ``X | None``: nullable fields say so themselves
# (OpenAPI 3.0 ``nullable``), and nullable objects are left open
OptionalText = Annotated[str | None, WithJsonSchema({"type": "string", "nullable": True})]
OptionalNumber = Annotated[float | None, WithJsonSchema({"type": "number", "nullable": True})]
OptionalObject = Annotated[Any, WithJsonSchema({"type": "object", "nullable": True})]
OptionalInt = Annotated[int | None, WithJsonSchema({"type": "integer", "nullable": True})]
OptionalBool = Annotated[bool | None, WithJsonSchema({"type": "boolean", "nullable": True})]
OptionalNumbers = Annotated[dict[str, float] | None, WithJsonSchema({"type": "object", "nullable": True})]


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrackText(Answer):
    """The emotion of a track's texts (lyrics, descriptions), where it has any."""

    emotion: dict[str, float]
    top: OptionalText
    top_name: OptionalText
    keywords: list[str]


class Profile(Answer):
    """A track's audio-derived profile (and, where it has texts, their emotion). A catalog track
    has its credit (package, version, licence) and links; an uploaded song has none."""

    track_id: str
    title: str
    artist: str
    source: str = Field(description="where the track comes from: the catalog's source, or upload")
    package: str = ""
    version: str = ""
    licence: str = ""
    licence_url: OptionalText = Field(None, description="the licence's text (catalog tracks with one)")
    duration: OptionalNumber = Field(None, description="seconds")
    audio_url: OptionalText = Field(None, description="the audio (catalog tracks with a file)")
    genre: str
    emotion: str
    emotions: dict[str, float] = Field(description="the six GEMS emotion probabilities")
    genres: dict[str, float] = Field(description="the four genre probabilities")
    valence: float
    arousal: float
    label_genre: OptionalText
    text: Annotated[TrackText | None, WithJsonSchema({"type": "object", "nullable": True})]


class RankedTrack(Answer):
    rank: int
    track_id: str
    score: float
    probability: float = Field(description="the policy's probability of picking it first")
    match: int = Field(
        description="the score on a 0-100 scale within this playlist (100: the policy's favourite, "
        "0: its least favourite)"
    )
    reason: str
    profile: Profile


class StateSource(Answer):
    source: str = Field(description="form, text, photo or hrv")
    valence: float | None = Field(
        None, description="what it says about valence (-1..1), when it says anything"
    )
    valence_sd: float | None = None
    arousal: float | None = Field(
        None, description="what it says about arousal (-1..1), when it says anything"
    )
    arousal_sd: float | None = None
    detail: str | None = None


class ListenerStateAnswer(Answer):
    """The listener state from every input given (docs/state.md): valence-arousal and stress with sds."""

    valence: float
    valence_sd: float
    arousal: float
    arousal_sd: float
    stress: float = Field(description="(arousal + 1) / 2: 0 calm .. 1 stressed")
    stress_sd: float
    stress_level: str = Field(description="low, medium or high: the most likely under the estimate")
    stress_probabilities: dict[str, float]
    mood: float = Field(description="the mood the policy ranks with: 3 + 2 x valence")
    sources: list[StateSource]
    from_prior: list[str] = Field(description="axes no input informed (left at params.yaml state.prior)")
    summary: str


class SuggestedTrack(Answer):
    """A track for a text or photo: by the policy from the listener state (mode calm: ``probability``
    and ``match``) or by emotion distance (mode match: ``name``, ``artists``, ``distance``,
    ``in_catalog``)."""

    rank: int
    track_id: str
    score: float
    reason: str
    profile: Annotated[Profile | None, WithJsonSchema({"type": "object", "nullable": True})] = Field(
        description="the track's profile, when it is in the catalog"
    )
    probability: OptionalNumber = Field(
        None, description="mode calm: the policy's probability of picking it first"
    )
    match: OptionalInt = Field(None, description="mode calm: the score on a 0-100 scale within the catalog")
    name: OptionalText = Field(None, description="mode match: the track's name in the text index")
    artists: OptionalText = Field(None, description="mode match: its artists in the text index")
    distance: OptionalNumber = Field(None, description="mode match: the emotion distance")
    in_catalog: OptionalBool = Field(None, description="mode match: whether the track is in the catalog")


class Listener(Answer):
    age: int
    gender: str
    mood: int
    mood_name: str


class Recommendation(Answer):
    tracks: list[RankedTrack]
    k: int
    requested_k: int
    candidates: int
    listener: Listener
    state: ListenerStateAnswer
    model_versions: dict[str, str]
    source: str
    recommendation_id: OptionalText = Field(None, description="send feedback with it")


class Emotion(Answer):
    code: str
    name: str
    strength: float


class Keyword(Answer):
    word: str
    tfidf: float
    weight: float
    contributions: dict[str, float] = Field(description="what the word adds to each emotion")


class TextRecommendation(Answer):
    emotion: dict[str, float]
    granularity: str = Field(description="coarse (7 groups) or fine (21 categories)")
    top_emotions: list[Emotion]
    keywords: list[Keyword]
    negated: list[str] = Field(description="the emotion words read as negated")
    valence_arousal: OptionalNumbers = Field(
        description="the text's valence and arousal (-1..1 each), when its words give one"
    )
    mode: str = Field(description="calm (the policy from the listener state) or match (the nearest emotion)")
    state: ListenerStateAnswer
    tracks: list[SuggestedTrack]
    candidates: OptionalInt = Field(None, description="mode calm: the catalog tracks ranked")
    model_versions: dict[str, str]
    recommendation_id: OptionalText = Field(None, description="set when age and gender were given")


class ImageRecommendation(Answer):
    message: str
    width: int
    height: int
    faces: list[dict[str, Any]]
    emotion: dict[str, Any] = Field(description="the people's emotion (DLUT categories)")
    emotion_coarse: dict[str, Any] = Field(description="the same in the 7 coarse groups")
    valence: float
    arousal: float
    top_emotions: list[Emotion]
    query_emotion: dict[str, float] = Field(description="the emotion the tracks are looked up with")
    query_top: list[Emotion]
    mode: str = Field(description="calm (the policy from the listener state) or match (the nearest emotion)")
    state: ListenerStateAnswer
    tracks: list[SuggestedTrack]
    candidates: OptionalInt = Field(None, description="mode calm: the catalog tracks ranked")
    model_versions: dict[str, str]
    recommendation_id: OptionalText = None


class AudioAnalysis(Profile):
    model_versions: dict[str, str]


class RowReading(Answer):
    level: str
    p_low: float
    p_medium: float
    p_high: float


class StressReading(Answer):
    level: str = Field(description="low, medium or high")
    probabilities: dict[str, float]
    metrics: dict[str, float]
    source: str = Field(description="rr or metrics")
    rows: int
    per_row: list[RowReading] = Field(description="each row's reading (the first 50)")
    recording: OptionalObject = Field(None, description="RR input: the recording's counts")
    baseline: OptionalNumbers = Field(None, description="with a baseline: its eight metrics")


class HrvAnalysis(StressReading):
    model_versions: dict[str, str]


class StoredFeedback(Answer):
    id: int = Field(description="the row's position in the feedback log")
    recommendation_id: str
    track_id: str
    created_at: str
    source: str
    stress_level: str
    reward: float
    choice_probability: OptionalNumber
    metrics: dict[str, float | None]
    probabilities: OptionalNumbers
    model_versions: dict[str, str]
    client_key: OptionalText
    baseline: Annotated[
        dict[str, float | None] | None, WithJsonSchema({"type": "object", "nullable": True})
    ] = Field(description="the listener's resting metrics the HRV was read against (null without one)")
    replayed: bool = Field(description="true when a retry with the same client_key found this row")
    reading: Annotated[StressReading | None, WithJsonSchema({"type": "object", "nullable": True})] = Field(
        description="the HRV reading (null for a stated stress level)"
    )


class ServedModel(Answer):
    version: str
    source: str = Field(description="where it was loaded from (bentoml:<tag> or mlflow:models:/...)")
    run_id: OptionalText
    loaded_at: str


class CatalogInfo(Answer):
    tracks: int
    tracks_with_text: int
    built_at: OptionalText
    fingerprint: OptionalText
    built_from: dict[str, str] = Field(description="the model versions the catalog was built with")
    stale: dict[str, str] = Field(description="models now serving another version than the catalog's")
    source: str
    loaded_at: str


class EventLog(Answer):
    commits: int
    rows: int
    largest_batch: int
    feedback_commits: int


class ServingModels(Answer):
    models: dict[str, ServedModel]
    shadow: dict[str, ServedModel] = Field(
        default_factory=dict,
        description="the policy challenger ranking every request in shadow (logged, never served); empty: none",
    )
    catalog: CatalogInfo
    swaps: int = Field(description="model swaps since start (hot reload)")
    last_error: OptionalText = Field(description="why the last refresh failed (null: it did not)")
    event_log: Annotated[EventLog | None, WithJsonSchema({"type": "object", "nullable": True})] = Field(
        None, description="this worker's writes (group commits make commits < rows)"
    )
