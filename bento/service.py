"""The moodtune BentoML service (BentoML 1.4 API): ``bentoml serve bento.service:Moodtune``.

Models are class-level :class:`bentoml.models.BentoModel` references to the champions that
``python -m bento.models`` imported from the MLflow registry (``make up`` runs it after
``dvc repro``), so ``bentoml build`` packs them into the Bento. At start-up every one must be
present; a missing one stops the service with a message naming it and how to build it.

The loaded models live in one :class:`~moodtune.serving.models.ModelHolder`; each request
reads the serving set once, so a swap (issue: hot reload) is one atomic reference change.
The endpoint logic is :class:`moodtune.serving.engine.Engine`; this module only adapts HTTP:
uploads become bytes, domain errors become 4xx JSON ``{"error": ..., "type": ...}`` with the
error's status code, and answers are returned as ready JSON responses.

Endpoints (POST, JSON or multipart; OpenAPI at ``/docs.json``, try-it page at ``/``):
``recommend``, ``recommend_text``, ``recommend_image``, ``analyze_audio``, ``analyze_hrv``,
``feedback``, ``models``. Health: ``/livez``, ``/readyz``. The web page is at ``/ui``.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import bentoml
from bentoml.models import BentoModel
from pydantic import Field
from starlette.responses import JSONResponse, Response

from bento import webapp
from bento.apicalls import bind_api_methods_once
from bento.middleware import BodyLimit, cancel_request_timers
from bento.sockets import per_worker_sockets
from moodtune.errors import MoodtuneError
from moodtune.serving.engine import Engine, Upload
from moodtune.settings import get_settings

log = logging.getLogger("moodtune.service")
SETTINGS = get_settings()
LIMITS = SETTINGS.service
MODEL_NAMES = tuple(LIMITS.bento_models)
CATALOG_MODEL = "moodtune-catalog"


# Optional file parameters are spelled ``file: Path = None`` and ``files: list[Path] =
# Field(default_factory=list)``: BentoML 1.4.39 makes ``Path`` an upload (FileSchema) only when
# it is not inside a union; ``Path | None`` would validate a JSON string as a server path and
# ``Optional[Path]`` fails to build the schema (FileSchema is unhashable).

# --- HTTP helpers ------------------------------------------------------------------------------


def error_response(exc: MoodtuneError) -> JSONResponse:
    return JSONResponse({"error": str(exc), "type": type(exc).__name__}, status_code=exc.status_code)


def answers(fn):
    """Return the endpoint's dict as JSON; a :class:`MoodtuneError` becomes its 4xx/503 answer."""

    @functools.wraps(fn)
    async def wrapper(self, *args, **kwargs):
        try:
            answer = await fn(self, *args, **kwargs)
        except MoodtuneError as exc:
            return error_response(exc)
        return answer if isinstance(answer, Response) else JSONResponse(answer)

    return wrapper


def upload(path: Path | None, what: str, limit: int) -> Upload | None:
    """Read a file BentoML stored for this request (its own temp file, never a client path)."""
    if path is None:
        return None
    path = Path(path)
    temp_root = Path(tempfile.gettempdir()).resolve()
    resolved = path.resolve()
    if temp_root not in resolved.parents or not resolved.parent.name.startswith("bentoml-request-"):
        raise MoodtuneError(f"{what}: upload the file itself (multipart/form-data); paths are not read")
    size = resolved.stat().st_size
    if size > limit:
        raise MoodtuneError(f"{what} is {size:,} bytes; the limit is {limit:,}")
    name = resolved.name
    # BentoML names the temp file "tmpXXXXXXXX<client file name>"; keep the client's name for display
    display = name[11:] if name.startswith("tmp") and len(name) > 11 else name
    return Upload(display or what, resolved.read_bytes())


def _refuse_remote_files() -> None:
    """BentoML's multipart parser downloads a file field given as a URL string; moodtune never
    fetches anything a client names, so such a field is refused (400) instead."""
    from _bentoml_impl import serde
    from bentoml.exceptions import BadInput
    from starlette.datastructures import UploadFile

    async def ensure_file(obj):
        if isinstance(obj, UploadFile):
            return obj
        raise BadInput("file fields take an uploaded file (multipart/form-data); "
                       "URLs and paths are not fetched")

    serde.MultipartSerde.ensure_file = staticmethod(ensure_file)


_refuse_remote_files()
cancel_request_timers()
bind_api_methods_once()
per_worker_sockets()  # applies in `bentoml serve`'s own process, which imports this module first


def missing_models_message(missing: list[tuple[str, str]]) -> str:
    """One line per model missing from the BentoML store: is there a champion to import, or
    must it be built first?"""
    from moodtune import registry
    from moodtune.registry import how_to_build

    lines = []
    for name, problem in missing:
        champion = None
        if name != CATALOG_MODEL:
            try:
                champion = registry.champion(name, SETTINGS)
            except Exception:  # the registry itself may be unreachable
                champion = None
        if champion is not None:
            fix = (f"the registry has champion v{champion.version}: import it with "
                   "`python -m bento.models` (make up does)")
        else:
            fix = how_to_build(name)
        lines.append(f"  {name}: {problem}; {fix}")
    return ("moodtune cannot start, models are missing from the BentoML store "
            f"({os.environ.get('BENTOML_HOME', '~/bentoml')}):\n" + "\n".join(lines))


# --- the service ---------------------------------------------------------------------------------


@bentoml.asgi_app(webapp.app, path="/ui", name="ui")
@bentoml.service(
    name="moodtune",
    workers=LIMITS.workers,
    traffic={"timeout": LIMITS.timeout_s},
    # No trace exporter is configured: skip OpenTelemetry's per-request spans (they cost more
    # than a recommendation). Prometheus metrics stay on at /metrics.
    tracing={"excluded_urls": [".*"]},
    logging={"access": {"enabled": False}},
)
class Moodtune:
    """Music for how a listener feels: recommend, read text/photos/HRV, record feedback."""

    audio_ref = BentoModel("moodtune-audio:latest")
    hrv_ref = BentoModel("moodtune-hrv:latest")
    policy_ref = BentoModel("moodtune-policy:latest")
    text_ref = BentoModel("moodtune-text-index:latest")
    face_ref = BentoModel("moodtune-face:latest")
    catalog_ref = BentoModel(f"{CATALOG_MODEL}:latest")

    REFS = {"moodtune-audio": "audio_ref", "moodtune-hrv": "hrv_ref", "moodtune-policy": "policy_ref",
            "moodtune-text-index": "text_ref", "moodtune-face": "face_ref", CATALOG_MODEL: "catalog_ref"}

    def __init__(self) -> None:
        import torch

        from moodtune.feedback import open_store
        from moodtune.serving.eventlog import EventWriter
        from moodtune.serving.models import ModelHolder

        torch.set_num_threads(1)  # small networks; leave the cores to concurrent requests
        self.settings = SETTINGS
        self.holder = ModelHolder(self._load_bento_models())
        self.store = open_store(settings=SETTINGS)
        self.writer = EventWriter(self.store, batch_max=LIMITS.log_batch_max,
                                  recommendation_sync=SETTINGS.feedback.recommendation_sync)
        self.engine = Engine(SETTINGS, self.holder, self.writer)
        self._warm_up()
        # Models, jieba's dictionary and the catalog are millions of long-lived objects: keep
        # them out of the cyclic GC, whose full passes over them stalled every request ~0.5 s.
        gc.collect()
        gc.freeze()
        log.info("moodtune serving %s", self.holder.current.versions)
        if LIMITS.reload_interval_seconds > 0:
            threading.Thread(target=self._follow_registry, name="moodtune-champion-poller", daemon=True).start()

    def _follow_registry(self) -> None:
        """Poll the registry's champion aliases; load what changed and swap it in between
        requests. A failed load keeps the serving models (``refresh`` logs why)."""
        while True:
            time.sleep(LIMITS.reload_interval_seconds)
            # The catalog stays the one packed with the Bento; models follow the registry.
            result = self.holder.refresh(SETTINGS, reload_catalog=False)
            if result.swapped:
                log.info("hot-swapped %s; now serving %s", result.changed, self.holder.current.versions)

    def _stored(self) -> dict[str, Any]:
        check_models_present()
        return {name: getattr(self, attr) for name, attr in self.REFS.items()  # resolved stored models
                if name == CATALOG_MODEL or name in MODEL_NAMES}

    def _load_bento_models(self):
        from datetime import UTC, datetime

        from moodtune.serving.catalog import Catalog
        from moodtune.serving.models import ModelSet, load_model_dir

        stored = self._stored()
        models = {}
        for name, model in stored.items():
            if name == CATALOG_MODEL:
                continue
            labels = model.info.labels
            models[name] = load_model_dir(
                name, Path(model.path), labels.get("mlflow_version", str(model.tag.version)), SETTINGS,
                source=f"bentoml:{model.tag}", run_id=labels.get("run_id") or None,
            )
        catalog = stored[CATALOG_MODEL]
        return ModelSet(models, Catalog.load(Path(catalog.path)), datetime.now(UTC), f"bentoml:{catalog.tag}")

    def _warm_up(self) -> None:
        """Load lazily initialised parts (jieba's dictionary, torch kernels) before traffic."""
        ms = self.holder.current
        try:
            ms.text.recommend_text("今天很开心", 1)
        except MoodtuneError:
            pass
        ids = list(ms.catalog.positions)[:4]
        if ids:
            self.engine.plan_recommend(track_ids=ids, age=30, gender="female", mood=3, k=1)

    def __is_ready__(self) -> bool:
        return self.holder.ready

    @bentoml.on_shutdown
    def _close(self) -> None:
        self.writer.close()

    async def _logged(self, plan) -> Response:
        """The plan's answer as JSON, with its ``recommendation_id`` once its event is
        committed (``null`` when there is no event to log)."""
        rec_id = None if plan.event is None else await self.writer.recommendation(plan.event)
        return Response(plan.json(rec_id), media_type="application/json")

    # --- endpoints -------------------------------------------------------------------------

    @bentoml.api
    @answers
    async def recommend(
        self,
        age: int,
        gender: str,
        mood: int,
        track_ids: list[str] | None = None,
        files: list[Path] = Field(default_factory=list),  # see the note on file parameters
        k: int = LIMITS.default_k,
    ) -> dict:
        """Top-k of a playlist (catalog `track_ids` and/or uploaded audio `files`) for a listener
        (age in years, gender female/male, mood 1 = sad .. 5 = happy): each track with its score,
        the probability the policy picks it first, its emotion and genre profile and a reason;
        the model versions; and the `recommendation_id` to send feedback for."""
        uploads = [upload(f, "audio file", LIMITS.max_file_bytes) for f in (files or [])]
        if uploads:  # feature extraction takes a while: keep the event loop free
            plan = await anyio.to_thread.run_sync(functools.partial(
                self.engine.plan_recommend, track_ids=track_ids, uploads=uploads, age=age, gender=gender,
                mood=mood, k=k))
        else:
            plan = self.engine.plan_recommend(track_ids=track_ids, age=age, gender=gender, mood=mood, k=k)
        return await self._logged(plan)

    @bentoml.api
    @answers
    async def recommend_text(
        self,
        text: str,
        k: int = LIMITS.default_k,
        age: int | None = None,
        gender: str | None = None,
        mood: int | None = None,
    ) -> dict:
        """Tracks for a Chinese text: its emotion (DLUT), the keywords behind it and the
        nearest tracks. With age, gender and mood the recommendation is logged (its
        `recommendation_id` takes feedback)."""
        plan = self.engine.plan_text(text, k, age=age, gender=gender, mood=mood)
        return await self._logged(plan)

    @bentoml.api
    @answers
    async def recommend_image(
        self,
        image: Path,
        k: int = LIMITS.default_k,
        age: int | None = None,
        gender: str | None = None,
        mood: int | None = None,
    ) -> dict:
        """Tracks for a photo: the faces found (boxes, expressions), the people's emotion and
        the nearest tracks. A photo without a face is refused with 422."""
        photo = upload(image, "photo", LIMITS.max_file_bytes)
        plan = await anyio.to_thread.run_sync(functools.partial(
            self.engine.plan_image, photo, k, age=age, gender=gender, mood=mood))
        return await self._logged(plan)

    @bentoml.api
    @answers
    async def analyze_audio(self, file: Path) -> dict:
        """One clip -> its GEMS-6 emotion and genre probabilities."""
        clip = upload(file, "audio file", LIMITS.max_file_bytes)
        return await anyio.to_thread.run_sync(self.engine.analyze_audio, clip)

    @bentoml.api
    @answers
    async def analyze_hrv(
        self,
        rr: list[float] | None = None,
        metrics: dict[str, float] | None = None,
        file: Path = None,  # see the note on file parameters
    ) -> dict:
        """HRV -> stress level (low, medium, high) and probabilities, from exactly one of: `rr`
        (RR intervals in ms), `metrics` (MEAN_RR, SDRR, HR, RMSSD, pNN50, VLF, LF, HF) or
        `file` (RR intervals one per line, or a CSV with the eight metrics)."""
        data = upload(file, "HRV file", LIMITS.max_hrv_bytes)
        return await anyio.to_thread.run_sync(functools.partial(
            self.engine.analyze_hrv, rr=rr, metrics=metrics, upload=data))

    @bentoml.api
    @answers
    async def feedback(
        self,
        recommendation_id: str,
        track_id: str,
        rr: list[float] | None = None,
        metrics: dict[str, float] | None = None,
        file: Path = None,  # see the note on file parameters
        stress_level: str | None = None,
        client_key: str | None = None,
    ) -> dict:
        """Store how a listener responded to a recommended track: HRV (`rr`, `metrics` or an
        uploaded `file`) read into a stress level, or an explicit `stress_level`. Returns the
        stored row (its `id`, the `reward`) once it is committed. `client_key` (8-64 letters,
        digits, `-_.:`; e.g. a UUID per feedback) makes a retry safe: the same key again returns
        the stored row with `replayed: true` instead of storing it twice."""
        data = upload(file, "HRV file", LIMITS.max_hrv_bytes)
        if rr is not None or metrics is not None or data is not None:  # reading HRV takes a few ms
            extra, kwargs = await anyio.to_thread.run_sync(functools.partial(
                self.engine.plan_feedback, recommendation_id=recommendation_id, track_id=track_id, rr=rr,
                metrics=metrics, upload=data, stress_level=stress_level, client_key=client_key))
        else:
            extra, kwargs = self.engine.plan_feedback(recommendation_id=recommendation_id, track_id=track_id,
                                                      metrics=metrics, stress_level=stress_level,
                                                      client_key=client_key)
        row = await self.writer.feedback(**kwargs)
        return self.engine.feedback_answer(row, extra["reading"])

    @bentoml.api
    @answers
    async def models(self) -> dict:
        """The serving model versions, where each came from and when it was loaded."""
        return self.engine.models()


Moodtune.add_asgi_middleware(BodyLimit, max_bytes=LIMITS.max_request_bytes)


def check_models_present() -> None:
    """Every referenced model must be in the BentoML store (checked when this module is loaded,
    before BentoML resolves the references): otherwise stop with what to build or import."""
    missing = []
    for name, attr in Moodtune.inner.REFS.items():
        if name != CATALOG_MODEL and name not in MODEL_NAMES:
            continue
        if getattr(Moodtune.inner, attr).stored is None:
            missing.append((name, "not in the BentoML store"))
    if missing:
        raise RuntimeError(missing_models_message(missing))


check_models_present()
