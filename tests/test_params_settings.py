"""params.yaml is the one source of every number: each settings field has its value there and
no default in moodtune/settings.py, and each params.yaml key is a settings field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from moodtune.errors import ConfigError
from moodtune.settings import Settings, load_settings

PARAMS = Path(__file__).resolve().parent.parent / "params.yaml"
SET_BY_LOADER = {"root"}  # the project root: where params.yaml is, never a value in it


def _section(annotation) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _fields(model: type[BaseModel], prefix: str = ""):
    """(dotted key, field, section model or None) for every field, depth first."""
    for name, field in model.model_fields.items():
        if not prefix and name in SET_BY_LOADER:
            continue
        sub = _section(field.annotation)
        yield prefix + name, field, sub
        if sub is not None:
            yield from _fields(sub, f"{prefix}{name}.")


def _keys(node: dict, prefix: str = "", sections: set[str] = frozenset()):
    for key, value in node.items():
        yield prefix + key
        if prefix + key in sections and isinstance(value, dict):
            yield from _keys(value, f"{prefix}{key}.", sections)


@pytest.fixture(scope="module")
def params() -> dict:
    return yaml.safe_load(PARAMS.read_text(encoding="utf-8"))


def test_every_settings_field_has_a_value_in_params_yaml_and_every_key_a_field(params):
    fields = {key for key, _, _ in _fields(Settings)}
    sections = {key for key, _, sub in _fields(Settings) if sub is not None}
    keys = set(_keys(params, sections=sections))
    assert sorted(fields - keys) == [], "settings fields without a value in params.yaml"
    assert sorted(keys - fields) == [], "params.yaml keys that no settings field reads"


def test_no_settings_field_carries_a_default_of_its_own():
    with_default = [key for key, field, _ in _fields(Settings) if not field.is_required()]
    assert with_default == [], "defaults belong in params.yaml, not in moodtune/settings.py"


def test_a_key_missing_from_params_yaml_is_an_error_naming_it(tmp_path, params):
    trimmed = {**params, "hrv": {k: v for k, v in params["hrv"].items() if k != "gate_margin"}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(trimmed, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="gate_margin"):
        load_settings(path)
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    assert load_settings(path).hrv.gate_margin == params["hrv"]["gate_margin"]
