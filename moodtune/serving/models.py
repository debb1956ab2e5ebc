"""The champions the service serves, held together and swapped atomically.

A :class:`ModelSet` is immutable: every model of ``registry.MODELS`` (audio, HRV, policy, text
index, face; ``ModelSet.<attr>`` is one's domain object, ``attr`` from its spec) and the catalog,
each with the registry version it came from and when it was loaded. The service keeps one in a :class:`ModelHolder`; a request reads ``holder.current`` once and uses
that set for its whole life, so replacing the reference (one attribute assignment, atomic
under the GIL) switches every *later* request to the new models without a lock and without
a request ever mixing two sets. :meth:`ModelHolder.refresh` builds a new set from the
registry's champions (reusing the models that did not change) and swaps it in; if anything
fails to load, the old set keeps serving and the reason is returned.

Models come from two places, through the same loaders:

* a directory holding an MLflow model (what ``bento/models.py`` copies into the BentoML model
  store, so a built Bento carries them): :func:`load_model_dir`;
* the MLflow registry (``models:/<name>/<version>``): :func:`load_registered`.

Both go through :mod:`moodtune.registry`'s one loader (``load_dir`` / ``load_version``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moodtune.errors import ModelNotFound
from moodtune.serving.catalog import Catalog, catalog_dir

log = logging.getLogger(__name__)

from moodtune.registry.names import (  # noqa: E402  (the one list of names)
    AUDIO,
    CATALOG,
    FACE,
    HRV,
    MODEL_NAMES,
    POLICY,
    SERVED_ATTRS,
    SHADOW,
    TEXT,
    how_to_build,
)

if TYPE_CHECKING:  # each model's served Protocol (ModelSpec.served, in its package module)
    from moodtune.audio.package import ServedAudio
    from moodtune.hrv.package import ServedHrv
    from moodtune.image.package import ServedFace
    from moodtune.policy.package import ServedPolicy
    from moodtune.text.package import ServedText

__all__ = ["AUDIO", "CATALOG", "FACE", "HRV", "MODEL_NAMES", "POLICY", "SHADOW", "TEXT", "how_to_build"]


@dataclass(frozen=True)
class LoadedModel:
    """One loaded model: the object the domain code calls, and where it came from."""

    name: str
    obj: Any
    version: str
    source: str  # e.g. "bentoml:moodtune-audio:v3-1a2b3c4d" or "mlflow:models:/moodtune-audio/3"
    loaded_at: datetime
    run_id: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "source": self.source,
            "run_id": self.run_id,
            "loaded_at": self.loaded_at.isoformat(),
        }


@dataclass(frozen=True)
class ModelSet:
    """Everything one request needs; never mutated (build a new one with :meth:`with_model`)."""

    models: Mapping[str, LoadedModel]
    catalog: Catalog
    catalog_loaded_at: datetime
    catalog_source: str = ""
    # the policy's registered challenger, ranking every request in shadow (logged, never served)
    shadow: LoadedModel | None = None

    def __post_init__(self) -> None:
        missing = [n for n in MODEL_NAMES if n not in self.models]
        if missing:
            raise ModelNotFound(f"the model set lacks {', '.join(missing)}")

    def obj(self, name: str):
        """The domain object of model ``name`` (``registry.AUDIO``, ...)."""
        return self.models[name].obj

    @cached_property
    def track_index(self):
        """What text and photo queries search: the text index itself when every catalog track
        is in it, else the same reading of text over the whole catalog (a track without texts
        by its audio profile in DLUT: a real catalog's songs have no Chinese texts)."""
        import numpy as np
        import pandas as pd

        text = self.text
        if set(self.catalog.positions) <= set(text.tracks["track_id"]):
            return text
        table = self.catalog.table
        tracks = pd.DataFrame(
            {
                "track_id": table["track_id"].astype(str),
                "name": table["title"].astype(str),
                "artists": table["artist"].astype(str),
                "popularity": 0.0,
            }
        )
        vectors = self.catalog.emotion_vectors(text.granularity) + 1e-9  # a silent profile still has a point
        va = table[["valence", "arousal"]].to_numpy(dtype=float) if text.space != "emotion" else None
        return text.over(tracks, np.asarray(vectors), va)

    def __getattr__(self, attr: str) -> Any:
        """``ms.audio``, ``ms.hrv``, ...: the domain object of the model whose spec's ``attr``
        this is (``registry.MODELS``)."""
        name = SERVED_ATTRS.get(attr)
        if name is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")
        return self.obj(name)

    if TYPE_CHECKING:  # what __getattr__ answers, typed for the checker (a model without a line is Any);
        # init=False: not constructor arguments (at run time they are not fields at all)
        audio: ServedAudio = field(init=False)
        hrv: ServedHrv = field(init=False)
        policy: ServedPolicy = field(init=False)
        text: ServedText = field(init=False)
        face: ServedFace = field(init=False)

    @property
    def versions(self) -> dict[str, str]:
        """``{registered model name: version}`` of every model served (logged with each event)."""
        return {name: m.version for name, m in self.models.items()}

    def with_model(self, loaded: LoadedModel) -> ModelSet:
        return replace(self, models={**self.models, loaded.name: loaded})

    def describe(self) -> dict[str, Any]:
        built = self.catalog.model_versions
        stale = {n: v for n, v in built.items() if n in self.models and self.models[n].version != v}
        return {
            "models": {name: m.describe() for name, m in self.models.items()},
            "shadow": {} if self.shadow is None else {self.shadow.name: self.shadow.describe()},
            "catalog": {
                "tracks": len(self.catalog),
                "tracks_with_text": int(self.catalog.meta.get("tracks_with_text", 0)),
                "built_at": self.catalog.meta.get("built_at"),
                "fingerprint": self.catalog.meta.get("fingerprint"),
                "built_from": built,
                "stale": stale,  # the catalog was built with another version than the one serving
                "source": self.catalog_source,
                "loaded_at": self.catalog_loaded_at.isoformat(),
            },
        }


def load_model_dir(
    name: str, path: Path, version: str, settings, *, source: str, run_id: str | None = None
) -> LoadedModel:
    """Load a registered model's MLflow model directory (e.g. from the BentoML model store)."""
    from moodtune import registry

    obj = registry.load_dir(name, path, version, settings)
    return LoadedModel(name, obj, str(version), source, datetime.now(UTC), run_id)


def load_registered(name: str, settings, version: str | None = None) -> LoadedModel:
    """Load ``name`` from the MLflow registry: ``version``, or the champion when ``None``."""
    from moodtune import registry

    found = registry.load_version(name, version, settings)
    return LoadedModel(name, found.obj, found.version, found.source, datetime.now(UTC), found.run_id)


def load_catalog(settings, directory: Path | None = None) -> tuple[Catalog, str]:
    directory = Path(directory) if directory is not None else catalog_dir(settings)
    return Catalog.load(directory), str(directory)


def registry_model_set(settings) -> ModelSet:
    """Every champion from the registry plus the catalog from the data dir."""
    models = {name: load_registered(name, settings) for name in MODEL_NAMES}
    catalog, source = load_catalog(settings)
    return ModelSet(models, catalog, datetime.now(UTC), source)


# --- the holder ------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    swapped: bool
    changed: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # name -> (old, new)
    error: str | None = None


class ModelHolder:
    """Holds the serving :class:`ModelSet`; swapping it is one reference assignment.

    Readers call :attr:`current` once per request (no lock). Writers (a reload, a poller)
    serialise among themselves with a lock, build the new set completely, then swap.
    """

    def __init__(self, initial: ModelSet | None = None):
        self._current: ModelSet | None = initial
        self._write_lock = threading.Lock()
        self.swaps = 0
        self.last_error: str | None = None
        self._checked_token: tuple | None = None  # the registry store's fingerprint at the last full check

    @property
    def current(self) -> ModelSet:
        current = self._current
        if current is None:
            raise ModelNotFound("the models are still loading; retry in a moment (see /readyz)")
        return current

    @property
    def ready(self) -> bool:
        return self._current is not None

    def swap(self, new: ModelSet) -> ModelSet | None:
        """Serve ``new`` from now on; returns the set it replaced."""
        with self._write_lock:
            old, self._current = self._current, new
            self.swaps += 1
            return old

    def refresh(
        self,
        settings,
        *,
        loader: Callable[[str, Any, str], LoadedModel] | None = None,
        reload_catalog: bool = True,
    ) -> RefreshResult:
        """Compare the registry's champions with the serving versions; load what changed and
        swap the new set in. On any failure the serving set stays and the error is returned."""
        from moodtune import registry

        loader = loader or (lambda name, s, version: load_registered(name, s, version))
        with self._write_lock:
            current = self._current
            # Polling runs beside requests and a registry read costs ~15-40 ms of CPU (under the
            # GIL): skip it while the store's files are untouched since the last full check.
            token = registry.store_token(settings)
            if (
                current is not None
                and not reload_catalog
                and token is not None
                and token == self._checked_token
            ):
                return RefreshResult(False, {}, None)
            try:
                changed: dict[str, tuple[str | None, str | None]] = {}
                loaded: dict[str, LoadedModel] = {}
                champions, challenger = registry.serving_versions(MODEL_NAMES, POLICY, settings)
                for name in MODEL_NAMES:
                    champion = champions[name]
                    if champion is None:
                        raise ModelNotFound(
                            f"no champion for {name!r} in {settings.tracking_uri}; {how_to_build(name)}"
                        )
                    serving = None if current is None else current.models[name].version
                    if champion != serving:
                        loaded[name] = loader(name, settings, champion)
                        changed[name] = (serving, champion)
                shadow = self._shadow(current, challenger, champions[POLICY], settings, loader, changed)
                if current is None:
                    catalog, source = load_catalog(settings)
                    new = ModelSet(loaded, catalog, datetime.now(UTC), source, shadow)
                else:
                    new = current
                    for model in loaded.values():
                        new = new.with_model(model)
                    if shadow is not current.shadow:
                        new = replace(new, shadow=shadow)
                    if reload_catalog:
                        catalog, source = load_catalog(settings)
                        if catalog.meta.get("fingerprint") != current.catalog.meta.get("fingerprint"):
                            new = replace(
                                new,
                                catalog=catalog,
                                catalog_loaded_at=datetime.now(UTC),
                                catalog_source=source,
                            )
                            changed[CATALOG] = (
                                current.catalog.meta.get("fingerprint"),
                                catalog.meta.get("fingerprint"),
                            )
            except Exception as exc:  # keep serving what we have; say why
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("model refresh failed, the serving models stay: %s", self.last_error)
                return RefreshResult(False, {}, self.last_error)
            if new is not current:
                self._current = new
                self.swaps += 1
            self.last_error = None
            self._checked_token = token
            return RefreshResult(new is not current, changed, None)

    @staticmethod
    def _shadow(
        current: ModelSet | None,
        challenger: str | None,
        champion: str | None,
        settings,
        loader,
        changed: dict,
    ) -> LoadedModel | None:
        """The policy challenger to run in shadow: the registered ``challenger`` when it is not
        the champion (kept when its version did not change)."""
        serving = None if current is None or current.shadow is None else current.shadow
        if challenger is None or challenger == champion:
            if serving is not None:
                changed[SHADOW] = (serving.version, "none")
            return None
        if serving is not None and serving.version == challenger:
            return serving
        changed[SHADOW] = (None if serving is None else serving.version, challenger)
        return loader(POLICY, settings, challenger)
