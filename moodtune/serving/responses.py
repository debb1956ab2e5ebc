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
    match: int = Field(description="the score on a 0-100 scale within this playlist (100: the policy's favourite, "
                                   "0: its least favourite)")
    reason: str
    profile: Profile


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
    model_versions: dict[str, str]
    source: str
    recommendation_id: OptionalText = Field(description="send feedback with it")


class Emotion(Answer):
    code: str
    name: str
    strength: float


class NearestTrack(Answer):
    rank: int
    track_id: str
    distance: float
    score: float
    in_catalog: bool
    profile: OptionalObject = Field(description="the track's profile, when it is in the catalog")
    reason: str


class TextRecommendation(Answer):
    emotion: dict[str, float]
    top_emotions: list[Emotion]
    keywords: list[dict[str, Any]]
    valence_arousal: OptionalObject = Field(description="the text's valence and arousal (-1..1 each), when its "
                                                        "words give one")
    tracks: list[NearestTrack]
    model_versions: dict[str, str]
    recommendation_id: OptionalText = Field(description="set when age, gender and mood were given")


class ImageRecommendation(Answer):
    faces: list[dict[str, Any]]
    top_emotions: list[Emotion]
    query_top: list[Emotion]
    tracks: list[NearestTrack]
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
    catalog: dict[str, Any]
