"""The base of every settings section (:mod:`moodtune.settings` composes them; each domain
defines its own in ``moodtune/<domain>/config.py``). Here, below the domains and the settings,
so a domain's ``config.py`` imports pydantic and this module only."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of every settings section: unknown keys are an error, not silently ignored. Fields
    carry no defaults: every value is in params.yaml (tests/test_params_settings.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
