"""The moodtune BentoML service (BentoML 1.4 API): ``bentoml serve bento.service:Moodtune``.

Models are class-level :class:`bentoml.models.BentoModel` references, one per model of
``registry.MODELS`` plus the catalog (:func:`with_model_refs`), to the champions that
the Dagster asset ``bento_models`` imported from the MLflow registry (``make up`` materializes
it after ``dvc repro``; ``python -m bento.models`` does the same outside Dagster), so ``bentoml build`` packs them into the Bento. At start-up every one must be
present; a missing one stops the service with a message naming it and how to build it.

The loaded models live in one :class:`~moodtune.serving.models.ModelHolder`; each request
reads the serving set once, so a swap (issue: hot reload) is one atomic reference change.
The endpoint logic is :class:`moodtune.serving.engine.Engine`; this module only adapts HTTP:
each endpoint takes its request model (:mod:`moodtune.serving.requests`, plus its file
fields) as the whole body, uploads become bytes (:mod:`bento.uploads`), domain errors become
``{"error": ..., "type": ...}`` with the error's status code (:mod:`bento.errors`), and the
engine's answer models are written as JSON (:func:`moodtune.serving.answers.dump`).
Adding an endpoint: docs/architecture.md, "Add an endpoint".

Start-up (``bentoml serve`` loads this module in the arbiter and in each worker): the patches
of BentoML's internals are applied (:func:`bento.patches.apply`, failing loudly), and the
settings are read once, into :data:`SETTINGS` (:func:`declaration_settings`): BentoML takes the
workers, the timeout, the request models' bounds (they are the OpenAPI) and the middlewares'
limits when the class is declared, so they cannot wait for ``__init__``; the instance uses the
same object, so the declaration and the endpoints never disagree.

Endpoints (POST, JSON or multipart; OpenAPI at ``/docs.json``, try-it page at ``/``):
``recommend``, ``recommend_text``, ``recommend_image``, ``analyze_audio``, ``analyze_hrv``,
``feedback``, ``models``. Health: ``/livez``, ``/readyz``. The web page is at ``/ui``.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import bentoml
from bentoml.models import BentoModel
from pydantic import Field
from starlette.responses import Response

import moodtune
from bento import patches, webapp
from bento.access import AccessControl
from bento.apidocs import ApiDocs
from bento.errors import error_body
from bento.lifecycle import die_with_parent
from bento.middleware import TIMEOUT_BACKSTOP_S, BodyLimit, RequestTimeout
from bento.requestlog import RequestLog, install_filter
from bento.uploads import KeepUploadBody, upload, uploads
from moodtune.errors import MoodtuneError
from moodtune.registry.names import CATALOG, MODELS
from moodtune.serving import responses as answers_
from moodtune.serving.answers import Plan, dump
from moodtune.serving.engine import Engine
from moodtune.serving.hrvbatch import MetricsReadings
from moodtune.serving.requests import (
    AnalyzeAudioRequest,
    AnalyzeHrvRequest,
    FeedbackRequest,
    ModelsRequest,
    RecommendImageRequest,
    RecommendRequest,
    RecommendTextRequest,
)
from moodtune.threads import single_threaded_pools

log = logging.getLogger("bentoml.moodtune")  # under "bentoml": BentoML's log configuration shows it
PATCHED = patches.apply()  # before BentoML builds anything; raises PatchError when BentoML moved on
install_filter()  # no control character from a request reaches this logger's lines
# The BentoML model references: one per model family of registry.MODELS (``<attr>_ref``) and the
# catalog, each a class attribute of the service (see with_model_refs).
REFS = {**{name: f"{spec.attr}_ref" for name, spec in MODELS.items()}, CATALOG: "catalog_ref"}


def declaration_settings():
    """The one read of the settings for this module: what the class declaration, the request
    models and the middlewares take at import, and what the instance uses. ``bentoml serve``
    imports this module in the arbiter and in each worker, each reading the same params.yaml
    and ``MOODTUNE_*`` environment (``get_settings`` caches it per process)."""
    from moodtune.settings import get_settings

    return get_settings()


SETTINGS = declaration_settings()
LIMITS = SETTINGS.service


# --- HTTP helpers ------------------------------------------------------------------------------


def error_response(exc: MoodtuneError):
    return error_body(exc.status_code, type(exc).__name__, str(exc))


def answers(fn):
    """Return the endpoint's answer model as JSON (a ready :class:`Response` as it is); a
    :class:`MoodtuneError` becomes its 4xx/503 answer."""

    @functools.wraps(fn)
    async def wrapper(self, *args, **kwargs):
        try:
            answer = await fn(self, *args, **kwargs)
        except MoodtuneError as exc:
            ctx = kwargs.get("ctx")
            if ctx is not None:  # BentoML answers with the context's status when there is one
                ctx.response.status_code = exc.status_code
            return error_response(exc)
        if isinstance(answer, Response):
            return answer
        return Response(dump(answer), media_type="application/json")

    return wrapper


# --- the request bodies: the request models plus their file fields ---------------------------------
# Files are spelled ``file: Path = None`` / ``files: list[Path] = Field(default_factory=list)``:
# BentoML 1.4.39 makes ``Path`` an upload (FileSchema) only when it is not inside a union. The
# endpoints read the files from the form (bento/uploads.py), never from these paths.


class RecommendBody(RecommendRequest):
    files: list[Path] = Field(default_factory=list, description="audio files to rank with the catalog ids")


class RecommendTextBody(RecommendTextRequest):
    pass


class RecommendImageBody(RecommendImageRequest):
    image: Path = Field(description="a photo with a face (JPEG, PNG, WEBP, BMP, GIF, TIFF)")


class AnalyzeAudioBody(AnalyzeAudioRequest):
    file: Path = Field(description="one audio clip (wav, mp3, ogg, flac)")


class AnalyzeHrvBody(AnalyzeHrvRequest):
    file: Path = Field(
        None,
        description="RR intervals (ms, one per line), a CSV with the eight metrics, "
        "or a raw ECG/PPG CSV (with sampling_rate or a time column)",
    )
    baseline: Path = Field(
        None,
        description="optional: the same listener at rest (RR, ECG or PPG); the "
        "reading is then relative to this person's own baseline",
    )


class FeedbackBody(FeedbackRequest):
    file: Path = Field(
        None,
        description="RR intervals (ms, one per line), a CSV with the eight metrics, "
        "or a raw ECG/PPG CSV (with sampling_rate or a time column)",
    )
    baseline: Path = Field(
        None,
        description="optional: the same listener at rest (RR, ECG or PPG), read "
        "against and stored with the feedback",
    )


class ModelsBody(ModelsRequest):
    pass


def missing_models_message(missing: list[tuple[str, str]], settings=None) -> str:
    """One line per model missing from the BentoML store: is there a champion to import, or
    must it be built first?"""
    from moodtune import registry
    from moodtune.registry import how_to_build

    lines = []
    for name, problem in missing:
        champion = None
        if name != CATALOG:
            try:
                champion = registry.champion(name, settings or SETTINGS)
            except Exception:  # the registry itself may be unreachable
                champion = None
        if champion is not None:
            fix = (
                f"the registry has champion v{champion.version}: import it with "
                "`python -m bento.models` (make up does)"
            )
        else:
            fix = how_to_build(name)
        lines.append(f"  {name}: {problem}; {fix}")
    return (
        "moodtune cannot start, models are missing from the BentoML store "
        f"({os.environ.get('BENTOML_HOME', '~/bentoml')}):\n" + "\n".join(lines)
    )


# --- the service ---------------------------------------------------------------------------------


def with_model_refs(cls):
    """Give the service class a ``BentoModel("<name>:latest")`` attribute for each of :data:`REFS`,
    and ``REFS`` itself. Applied below ``@bentoml.service``, which collects the class's model
    references when it wraps the class: ``bentoml build`` packs them, and at start-up each
    resolves (on the instance) to the stored model."""
    for name, attr in REFS.items():
        setattr(cls, attr, BentoModel(f"{name}:latest"))
    cls.REFS = REFS
    return cls


@bentoml.asgi_app(webapp.app, path="/ui", name="ui")
@bentoml.service(
    name="moodtune",
    workers=LIMITS.workers,
    traffic={
        "timeout": LIMITS.timeout_s + TIMEOUT_BACKSTOP_S
    },  # a backstop: RequestTimeout answers at timeout_s
    # No trace exporter is configured: skip OpenTelemetry's per-request spans (they cost more
    # than a recommendation). Prometheus metrics stay on at /metrics.
    tracing={"excluded_urls": [".*"]},
    logging={"access": {"enabled": False}},
)
@with_model_refs
class Moodtune:
    """Music for how a listener feels: recommend, read text/photos/HRV, record feedback."""

    REFS: dict[str, str]  # registered model name -> its BentoModel attribute (with_model_refs)

    def __init__(self) -> None:
        import torch

        from moodtune.feedback import open_store
        from moodtune.serving.eventlog import EventWriter
        from moodtune.serving.models import ModelHolder

        die_with_parent()  # a worker never outlives the arbiter that supervises it
        torch.set_num_threads(1)  # small networks; leave the cores to concurrent requests
        self.settings = settings = SETTINGS  # the declaration's (declaration_settings)
        self.limits = settings.service
        self.holder = ModelHolder(self._load_bento_models())
        self.store = open_store(settings=settings)
        self.writer = EventWriter(
            self.store,
            batch_max=self.limits.log_batch_max,
            recommendation_sync=settings.feedback.recommendation_sync,
        )
        self.readings = MetricsReadings(wait_ms=self.limits.hrv_batch_wait_ms)
        self.engine = Engine(settings, self.holder, self.writer, self.readings)
        self._warm_up()
        single_threaded_pools()  # after the models loaded theirs: BLAS threads cost more than they give here
        # Models, jieba's dictionary and the catalog are millions of long-lived objects: keep
        # them out of the cyclic GC, whose full passes over them stalled every request ~0.5 s.
        gc.collect()
        gc.freeze()
        log.info("moodtune serving %s (patches: %s)", self.holder.current.versions, ", ".join(PATCHED))
        if self.limits.reload_interval_seconds > 0:
            threading.Thread(
                target=self._follow_registry, name="moodtune-champion-poller", daemon=True
            ).start()

    def _follow_registry(self) -> None:
        """Poll the registry's champion aliases every ``service.reload_interval_seconds``."""
        while True:
            time.sleep(self.limits.reload_interval_seconds)
            self._check_registry()

    def _check_registry(self) -> None:
        """Load the registry's champions that differ from the serving ones and swap them in
        between requests. A failed load keeps the serving models (``refresh`` logs why)."""
        # The catalog stays the one packed with the Bento; models follow the registry.
        result = self.holder.refresh(self.settings, reload_catalog=False)
        if result.swapped:
            log.info("hot-swapped %s; now serving %s", result.changed, self.holder.current.versions)

    def _stored(self) -> dict[str, Any]:
        check_models_present(self.settings)
        return {name: getattr(self, attr) for name, attr in self.REFS.items()}  # resolved stored models

    def _load_bento_models(self):
        from datetime import UTC, datetime

        from moodtune.serving.catalog import Catalog
        from moodtune.serving.models import ModelSet, load_model_dir

        stored = self._stored()
        models = {}
        for name, model in stored.items():
            if name == CATALOG:
                continue
            labels = model.info.labels
            models[name] = load_model_dir(
                name,
                Path(model.path),
                labels.get("mlflow_version", str(model.tag.version)),
                self.settings,
                source=f"bentoml:{model.tag}",
                run_id=labels.get("run_id") or None,
            )
        catalog = stored[CATALOG]
        return ModelSet(
            models,
            Catalog.load(Path(catalog.path), self.settings.data_dir),
            datetime.now(UTC),
            f"bentoml:{catalog.tag}",
        )

    def _warm_up(self) -> None:
        """Load lazily initialised parts (jieba's dictionary, torch kernels, the catalog's emotion
        index) and make the registry poller's first check before traffic."""
        if self.limits.reload_interval_seconds > 0:
            # The poller's first check opens MLflow's SQL store (alembic, ~100,000 objects): here,
            # before gc.freeze, not during traffic, where every later full collection would walk
            # those objects (feedback p99 +35-90 ms on benchmarks/service.py, docs/performance.md).
            # First, so that what it swaps in is what the rest warms up.
            self._check_registry()
        ms = self.holder.current
        try:
            ms.track_index.recommend_text("今天很开心", 1)
        except MoodtuneError:
            pass
        ids = list(ms.catalog.positions)[:4]
        if ids:
            self.engine.plan_recommend(RecommendRequest(track_ids=ids, age=30, gender="female", mood=3, k=1))

    def __is_ready__(self) -> bool:
        return self.holder.ready

    @bentoml.on_shutdown
    def _close(self) -> None:
        self.writer.close()

    async def _logged(self, plan: Plan) -> Response:
        """The plan's answer as JSON, with its ``recommendation_id`` once its event is
        committed (``null`` when there is no event to log)."""
        rec_id = None if plan.event is None else await self.writer.recommendation(plan.event)
        return Response(plan.json(rec_id), media_type="application/json")

    # --- endpoints -------------------------------------------------------------------------

    @bentoml.api
    @answers
    async def recommend(self, req: RecommendBody, /, ctx: bentoml.Context) -> answers_.Recommendation:
        """Top-k of a playlist (catalog `track_ids` and/or uploaded audio `files`) for a listener
        (age in years, gender female/male, mood 1 = sad .. 5 = happy): each track with its score,
        the probability the policy picks it first, its emotion and genre profile and a reason;
        the model versions; and the `recommendation_id` to send feedback for."""
        songs = await uploads(ctx, "files", "audio file", self.limits.max_file_bytes)
        if songs:  # feature extraction takes a while: keep the event loop free
            plan = await anyio.to_thread.run_sync(self.engine.plan_recommend, req, songs)
        else:
            plan = self.engine.plan_recommend(req)
        return await self._logged(plan)

    @bentoml.api
    @answers
    async def recommend_text(self, req: RecommendTextBody, /) -> answers_.TextRecommendation:
        """Tracks for a Chinese text: its emotion (DLUT), the keywords behind it and the
        nearest tracks. With age, gender and mood the recommendation is logged (its
        `recommendation_id` takes feedback)."""
        return await self._logged(self.engine.plan_text(req))

    @bentoml.api
    @answers
    async def recommend_image(
        self, req: RecommendImageBody, /, ctx: bentoml.Context
    ) -> answers_.ImageRecommendation:
        """Tracks for a photo: the faces found (boxes, expressions), the people's emotion and
        the nearest tracks. A photo without a face is refused with 422."""
        photo = await upload(ctx, "image", "photo", self.limits.max_file_bytes)
        if photo is None:
            raise MoodtuneError("image: upload the photo itself (multipart/form-data)")
        plan = await anyio.to_thread.run_sync(self.engine.plan_image, req, photo)
        return await self._logged(plan)

    @bentoml.api
    @answers
    async def analyze_audio(self, req: AnalyzeAudioBody, /, ctx: bentoml.Context) -> answers_.AudioAnalysis:
        """One clip -> its GEMS-6 emotion and genre probabilities."""
        clip = await upload(ctx, "file", "audio file", self.limits.max_file_bytes)
        if clip is None:
            raise MoodtuneError("file: upload the audio file itself (multipart/form-data)")
        return await anyio.to_thread.run_sync(self.engine.analyze_audio, req, clip)

    @bentoml.api
    @answers
    async def analyze_hrv(self, req: AnalyzeHrvBody, /, ctx: bentoml.Context) -> answers_.HrvAnalysis:
        """HRV -> stress level (low, medium, high) and probabilities, from exactly one of: `rr`
        (RR intervals in ms), `metrics` (MEAN_RR, SDRR, HR, RMSSD, pNN50, VLF, LF, HF) or
        `file` (RR intervals one per line, a CSV with the eight metrics, or a raw ECG/PPG CSV with
        its `sampling_rate`). An optional `baseline` file (the same listener at rest) makes the
        reading relative to that person's own baseline."""
        data = await upload(ctx, "file", "HRV file", self.limits.max_hrv_bytes)
        baseline = await upload(ctx, "baseline", "baseline HRV file", self.limits.max_hrv_bytes)
        return await anyio.to_thread.run_sync(self.engine.analyze_hrv, req, data, baseline)

    @bentoml.api
    @answers
    async def feedback(self, req: FeedbackBody, /, ctx: bentoml.Context) -> answers_.StoredFeedback:
        """Store how a listener responded to a recommended track: HRV (`rr`, `metrics` or an
        uploaded `file`) read into a stress level, or an explicit `stress_level`. Returns the
        stored row (its `id`, the `reward`) once it is committed. `client_key` (8-64 letters,
        digits, `-_.:`; e.g. a UUID per feedback) makes a retry safe: the same key again returns
        the stored row with `replayed: true` instead of storing it twice. An optional `baseline`
        file (the same listener at rest) is read against and stored with the row."""
        data = await upload(ctx, "file", "HRV file", self.limits.max_hrv_bytes)
        baseline = await upload(ctx, "baseline", "baseline HRV file", self.limits.max_hrv_bytes)
        return await self.engine.feedback(req, data, baseline)

    @bentoml.api
    @answers
    async def models(self, req: ModelsBody, /) -> answers_.ServingModels:
        """The serving model versions, where each came from and when it was loaded."""
        return self.engine.models(req)


Moodtune.add_asgi_middleware(
    RequestTimeout, timeout=LIMITS.timeout_s
)  # the outermost of ours: 504 in our shape
Moodtune.add_asgi_middleware(RequestLog)  # every answer has an id, every error one line
Moodtune.add_asgi_middleware(BodyLimit, max_bytes=LIMITS.max_request_bytes)
Moodtune.add_asgi_middleware(AccessControl, api_keys=LIMITS.api_keys, per_minute=LIMITS.rate_limit_per_minute)
Moodtune.add_asgi_middleware(ApiDocs, service=Moodtune, version=moodtune.__version__)
Moodtune.add_asgi_middleware(KeepUploadBody)  # the innermost: a multipart body as read, for bento/uploads.py


def check_models_present(settings=None) -> None:
    """Every referenced model must be in the BentoML store (checked when this module is loaded,
    before BentoML resolves the references): otherwise stop with what to build or import."""
    settings = settings or SETTINGS
    missing = []
    for name, attr in Moodtune.inner.REFS.items():
        if getattr(Moodtune.inner, attr).stored is None:
            missing.append((name, "not in the BentoML store"))
    if missing:
        raise RuntimeError(missing_models_message(missing, settings))


check_models_present()
