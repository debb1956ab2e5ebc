"""The answers of the service's endpoints, as pydantic models: the OpenAPI's 200 schemas.

They describe what the engine answers (the endpoints return ready JSON; these models are not
used to build it, so they list what a client can rely on and allow more fields).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# BentoML's OpenAPI keeps only the first branch of ``X | None``: nullable fields say so themselves
# (OpenAPI 3.0 ``nullable``), and nullable objects are left open
OptionalText = Annotated[str | None, WithJsonSchema({"type": "string", "nullable": True})]
OptionalNumber = Annotated[float | None, WithJsonSchema({"type": "number", "nullable": True})]
OptionalObject = Annotated[Any, WithJsonSchema({"type": "object", "nullable": True})]


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class Profile(Answer):
    """A track's audio-derived profile (and, where it has texts, their emotion)."""

    track_id: str
    genre: str
    emotion: str
    emotions: dict[str, float] = Field(description="the six GEMS emotion probabilities")
    genres: dict[str, float] = Field(description="the four genre probabilities")
    valence: float
    arousal: float


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


OptionalInt = Annotated[int | None, WithJsonSchema({"type": "integer", "nullable": True})]
OptionalBool = Annotated[bool | None, WithJsonSchema({"type": "boolean", "nullable": True})]


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
    and ``match``) or by emotion distance (mode match: ``distance``, ``in_catalog``)."""

    rank: int
    track_id: str
    score: float
    reason: str
    profile: OptionalObject = Field(description="the track's profile, when it is in the catalog")
    probability: OptionalNumber = Field(
        None, description="mode calm: the policy's probability of picking it first"
    )
    match: OptionalInt = Field(None, description="mode calm: the score on a 0-100 scale within the catalog")
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
    recommendation_id: OptionalText = Field(description="send feedback with it")


class Emotion(Answer):
    code: str
    name: str
    strength: float


class TextRecommendation(Answer):
    emotion: dict[str, float]
    top_emotions: list[Emotion]
    keywords: list[dict[str, Any]]
    valence_arousal: OptionalObject = Field(
        description="the text's valence and arousal (-1..1 each), when its words give one"
    )
    mode: str = Field(description="calm (the policy from the listener state) or match (the nearest emotion)")
    state: ListenerStateAnswer
    tracks: list[SuggestedTrack]
    model_versions: dict[str, str]
    recommendation_id: OptionalText = Field(description="set when age and gender were given")


class ImageRecommendation(Answer):
    faces: list[dict[str, Any]]
    top_emotions: list[Emotion]
    query_top: list[Emotion]
    mode: str = Field(description="calm (the policy from the listener state) or match (the nearest emotion)")
    state: ListenerStateAnswer
    tracks: list[SuggestedTrack]
    model_versions: dict[str, str]
    recommendation_id: OptionalText


class AudioAnalysis(Profile):
    model_versions: dict[str, str]


class StressReading(Answer):
    level: str = Field(description="low, medium or high")
    probabilities: dict[str, float]
    metrics: dict[str, float]
    source: str = Field(description="rr or metrics")
    rows: int


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
    replayed: bool = Field(description="true when a retry with the same client_key found this row")
    reading: OptionalObject = Field(description="the HRV reading (null for a stated stress level)")


class ServingModels(Answer):
    models: dict[str, dict[str, Any]]
    shadow: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="the policy challenger ranking every request in shadow (logged, never served); empty: none",
    )
    catalog: dict[str, Any]
