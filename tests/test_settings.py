from pathlib import Path

import pytest

from moodtune.errors import ConfigError
from moodtune.settings import PROJECT_ROOT, load_settings


def test_paths_are_absolute_and_rooted(tmp_path):
    s = load_settings(environ={})
    assert s.data_dir == PROJECT_ROOT / "data"
    assert s.artifact_root.is_absolute()
    assert s.tracking_uri == f"sqlite:///{PROJECT_ROOT / 'mlflow' / 'mlflow.db'}"


def test_environment_overrides(tmp_path):
    env = {
        "MOODTUNE_DATA_DIR": str(tmp_path / "d"),
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
        "MOODTUNE_PROJECT__SEED": "7",
    }
    s = load_settings(environ=env)
    assert s.data_dir == tmp_path / "d"
    assert s.tracking_uri == "http://127.0.0.1:5000"
    assert s.project.seed == 7


def test_relative_sqlite_uri_is_pinned_to_root():
    s = load_settings(environ={"MLFLOW_TRACKING_URI": "sqlite:///mlflow/other.db"})
    assert s.tracking_uri == f"sqlite:///{PROJECT_ROOT / 'mlflow' / 'other.db'}"


def test_explicit_overrides_win_over_environment(tmp_path):
    s = load_settings(environ={"MOODTUNE_PROJECT__SEED": "7"}, overrides={"project": {"seed": 9}})
    assert s.project.seed == 9


def test_unknown_key_is_a_clear_error(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("project:\n  sead: 1\n")
    with pytest.raises(ConfigError, match="sead"):
        load_settings(params, environ={})


def test_missing_params_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_data_path_helper(tmp_path):
    s = load_settings(environ={"MOODTUNE_DATA_DIR": str(tmp_path)})
    assert s.data_path("audio", "clips") == tmp_path / "audio" / "clips"
    assert s.path("x/y") == (PROJECT_ROOT / "x/y").resolve()
    assert s.path(Path("/abs")) == Path("/abs")


def test_a_domain_section_is_composed_from_its_own_config_module():
    """The HRV section is moodtune/hrv/config.py's (no copy in settings.py); nested keys
    override like any other (environment included)."""
    from moodtune.hrv.config import HrvSettings, KubiosSettings

    s = load_settings(
        environ={"MOODTUNE_HRV__METRICS__KUBIOS__MAX_PASSES": "3"},
        overrides={"hrv": {"model": {"iterations": 7}}},
    )
    assert isinstance(s.hrv, HrvSettings) and isinstance(s.hrv.metrics.kubios, KubiosSettings)
    assert s.hrv.metrics.kubios.max_passes == 3 and s.hrv.model.iterations == 7
    with pytest.raises(ConfigError, match="kubios_c1"):  # the flat keys are gone
        load_settings(environ={}, overrides={"hrv": {"kubios_c1": 0.1}})


def test_the_policy_and_text_sections_are_their_domains_and_nested():
    """policy, retrain and drill are moodtune/policy/config.py's, text moodtune/text/config.py's;
    policy's prefixed groups are sub-sections (environment overrides name the nested key)."""
    from moodtune.policy.config import DrillSettings, IsoSettings, PolicySettings, RetrainSettings
    from moodtune.text.config import TextSettings

    s = load_settings(
        environ={"MOODTUNE_POLICY__WARM_START__SESSIONS": "12"},
        overrides={"policy": {"iso": {"reach": 0.7}}},
    )
    assert isinstance(s.policy, PolicySettings) and isinstance(s.policy.iso, IsoSettings)
    assert isinstance(s.retrain, RetrainSettings) and isinstance(s.drill, DrillSettings)
    assert isinstance(s.text, TextSettings)
    assert s.policy.warm_start.sessions == 12 and s.policy.iso.reach == 0.7
    for flat in ({"iso_reach": 0.7}, {"warm_start_sessions": 12}, {"held_out_curve_points": 1}):
        with pytest.raises(ConfigError, match=next(iter(flat))):  # the flat keys are gone
            load_settings(environ={}, overrides={"policy": flat})
    with pytest.raises(ConfigError, match="stress_shift names"):
        load_settings(
            environ={},
            overrides={"drill": {"scenarios": {"x": {"ages": [1, 2], "stress_shift": {"joy": 1}}}}},
        )


def test_a_model_family_s_section_is_composed_from_its_spec(tmp_path, monkeypatch):
    """A family's spec names its section (``moodtune.<domain>.config:<Class>``): the settings
    read params.yaml's ``<domain>`` into it, typed through ``section``, with no edit of
    settings.py; a missing, misspelt or invalid section is still an error naming it."""
    import sys
    import types

    import yaml
    from pydantic import Field

    from moodtune import settings as settings_module
    from moodtune.families import MODELS, ModelSpec
    from moodtune.hrv.config import HrvSettings
    from moodtune.section import Section

    class ToySettings(Section):
        floor: float = Field(ge=0, le=1)

    config = types.ModuleType("moodtune.toy.config")
    config.ToySettings = ToySettings  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "moodtune.toy.config", config)
    toy = ModelSpec("moodtune-toy", "toy", "", settings="moodtune.toy.config:ToySettings")
    sections = settings_module.family_sections([*MODELS.values(), toy])
    assert sections["toy"] is ToySettings and sections["hrv"] is HrvSettings
    project = load_settings(environ={})
    monkeypatch.setattr(
        settings_module, "Settings", settings_module.compose(settings_module.DeclaredSettings, sections)
    )
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "params.yaml"

    def load(environ=None, **sections_):
        path.write_text(yaml.safe_dump({**params, **sections_}, allow_unicode=True), encoding="utf-8")
        return load_settings(path, environ=environ or {})

    s = load(toy={"floor": 0.5})
    assert s.section(ToySettings) == ToySettings(floor=0.5) and s.section(HrvSettings) is s.hrv
    assert load({"MOODTUNE_TOY__FLOOR": "0.25"}, toy={"floor": 0.5}).section(ToySettings).floor == 0.25
    with pytest.raises(ConfigError, match="toy"):
        load()
    with pytest.raises(ConfigError, match="toyy"):
        load(toy={"floor": 0.5}, toyy={"floor": 0.5})
    with pytest.raises(ConfigError, match="floor"):
        load(toy={"floor": 2})
    with pytest.raises(ConfigError, match="no settings section is a"):
        project.section(ToySettings)  # the project's own settings have no toy
    # a spec's settings is a domain's config module, one class per section
    for path_ in ("moodtune.toy.model:ToySettings", "moodtune.toy.config", "toy.config:ToySettings"):
        with pytest.raises(ConfigError, match="moodtune.<domain>.config:<Class>"):
            settings_module.family_sections([ModelSpec("moodtune-toy", "toy", "", settings=path_)])
    with pytest.raises(ConfigError, match="'hrv' is declared"):
        settings_module.compose(settings_module.DeclaredSettings, {"hrv": ToySettings})


def test_the_settings_resource_reads_params_yaml_once_per_run(tmp_path):
    """An edit of params.yaml during a run is not seen by the run's later assets (nor by the
    resources nested in others); the next run sees it. with_overrides reads afresh."""
    import dagster as dg

    from assets.resources import MlflowResource, SettingsResource

    params = tmp_path / "params.yaml"
    params.write_text((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    seen: list[tuple[str, int, int]] = []

    def edit(subjects: int) -> None:
        text = params.read_text(encoding="utf-8")
        assert text.count("\n    subjects: ") == 1
        lines = [
            f"    subjects: {subjects}" if ln.startswith("    subjects: ") else ln for ln in text.splitlines()
        ]
        params.write_text("\n".join(lines) + "\n", encoding="utf-8")

    @dg.asset
    def first(settings: SettingsResource, mlflow: MlflowResource) -> int:
        s = settings.get()
        seen.append(("first", s.hrv.demo.subjects, mlflow.get_settings().hrv.demo.subjects))
        edit(s.hrv.demo.subjects + 1)  # mid-run
        return 1

    @dg.asset(deps=[first])
    def second(settings: SettingsResource, mlflow: MlflowResource) -> int:
        seen.append(("second", settings.get().hrv.demo.subjects, mlflow.get_settings().hrv.demo.subjects))
        return 2

    res = SettingsResource(params_path=str(params), data_dir=str(tmp_path / "data"))
    original = load_settings(params).hrv.demo.subjects

    def run() -> None:
        result = dg.materialize(
            [first, second], resources={"settings": res, "mlflow": MlflowResource(settings=res)}
        )
        assert result.success

    run()
    assert seen == [("first", original, original), ("second", original, original)]
    assert load_settings(params).hrv.demo.subjects == original + 1  # the file did change
    seen.clear()
    run()  # a new run reads the edit
    assert seen == [("first", original + 1, original + 1), ("second", original + 1, original + 1)]

    # used directly (not initialized for a run) it reads now; overrides give a fresh resource
    assert res.get().hrv.demo.subjects == original + 2
    assert res.with_overrides("hrv: {demo: {subjects: 5}}").get().hrv.demo.subjects == 5


def test_overrides_survive_dagsters_initialisation_of_the_resource(tmp_path):
    """Dagster re-creates a resource from the config it was built with for each run: a resource
    from ``with_overrides`` must carry its merged overrides there (a pydantic copy lost them)."""
    import dagster as dg

    from assets.resources import SettingsResource

    @dg.asset
    def read(settings: SettingsResource) -> tuple:
        s = settings.get()
        return s.retrain.min_new_feedback, s.retrain.timesteps, s.hrv.demo.subjects

    base = SettingsResource(
        data_dir=str(tmp_path / "data"), overrides_yaml="retrain: {timesteps: 7}\nhrv: {demo: {subjects: 3}}"
    )
    res = base.with_overrides("retrain: {min_new_feedback: 123}")
    result = dg.materialize([read], resources={"settings": res})
    assert result.success and result.output_for_node("read") == (123, 7, 3)
