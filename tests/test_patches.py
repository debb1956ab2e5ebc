"""The guards of bento/patches.py: a patch refuses a BentoML it was not written for, loudly."""

from __future__ import annotations

import bentoml
import pytest

from bento import patches


def test_every_patch_applies_to_the_pinned_bentoml_and_is_idempotent(monkeypatch):
    monkeypatch.delenv("MOODTUNE_BENTO_PATCHES_OFF", raising=False)
    assert patches.apply() == list(patches.PATCHES) == patches.apply()


def test_another_bentoml_version_stops_start_up_naming_the_patch(monkeypatch):
    monkeypatch.setattr(bentoml, "__version__", "1.5.0")
    with pytest.raises(
        patches.PatchError, match=r"patch 'error_answers' was written for BentoML 1\.4\.39, this is 1\.5\.0"
    ):
        patches.apply()


def test_a_missing_target_stops_start_up(monkeypatch):
    from _bentoml_impl import serde

    monkeypatch.delattr(serde.MultipartSerde, "ensure_file")
    with pytest.raises(patches.PatchError, match=r"MultipartSerde\.ensure_file no longer exists"):
        patches.refuse_remote_files()


def test_patches_can_be_left_out_by_name_only(monkeypatch):
    monkeypatch.setenv("MOODTUNE_BENTO_PATCHES_OFF", "error_answers, refuse_remote_files")
    assert patches.apply() == []
    monkeypatch.setenv("MOODTUNE_BENTO_PATCHES_OFF", " refuse_remote_files")
    assert patches.apply() == ["error_answers"]
    monkeypatch.setenv("MOODTUNE_BENTO_PATCHES_OFF", "per_worker_sockets")  # dropped (docs/performance.md)
    with pytest.raises(patches.PatchError, match="unknown patches"):
        patches.apply()
