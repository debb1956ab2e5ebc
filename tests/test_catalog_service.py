"""The served catalog of real music: this module's copy of the small stack with its catalog
rebuilt by Dagster from a real Debian package of game music (seahorse-adventures, fetched with
apt once per machine), served by a real `bentoml serve`. Recommendations carry the credit, the
audio streams by id with range requests, the licence text is served, text recommends real tracks,
and in Chromium the page plays a track and shows its credit line."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = [pytest.mark.service, pytest.mark.slow]
PACKAGE = "seahorse-adventures"


@pytest.fixture(scope="module")
def policy_stack(_built_stack, tmp_path_factory):
    """The small stack, its catalog rebuilt from one real Debian package (overrides conftest's)."""
    from conftest import SMALL, copy_stack
    from dagster import AssetSelection, load_assets_from_package_module, materialize

    import assets
    from assets.resources import SettingsResource
    from definitions import build_resources

    stack = copy_stack(_built_stack, tmp_path_factory.mktemp("real_catalog_stack"))
    old = stack["settings_resource"]
    res = SettingsResource(
        data_dir=old.data_dir,
        tracking_uri=old.tracking_uri,
        overrides_yaml=old.overrides_yaml.replace(SMALL, "")
        + SMALL.replace("catalog: {source: demo}", f"catalog: {{source: debian, packages: [{PACKAGE}]}}"),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MOODTUNE_AUDIO__CATALOG__SOURCE", raising=False)
        result = materialize(
            load_assets_from_package_module(assets),
            resources=build_resources(res),
            selection=AssetSelection.assets("catalog_tracks", "catalog_features", "catalog"),
        )
    assert result.success
    return {**stack, "settings": res.get(), "resources": build_resources(res), "settings_resource": res}


@pytest.fixture(scope="module")
def url(service_stack) -> str:
    return service_stack["url"]


def test_the_catalog_is_real_credited_music(url):
    listing = httpx.get(f"{url}/ui/api/catalog", timeout=30).json()
    tracks = listing["tracks"]
    assert listing["total"] == len(tracks) >= 5
    assert {t["source"] for t in tracks} == {"debian"} and {t["package"] for t in tracks} == {PACKAGE}
    assert all(t["licence"] == "GPL-2" and t["duration"] > 30 and t["playable"] for t in tracks)
    assert all(t["licence_url"] == f"/ui/licence/{PACKAGE}" for t in tracks)


def test_a_recommendation_carries_the_credit_and_streams_with_ranges(url):
    ids = [t["track_id"] for t in httpx.get(f"{url}/ui/api/catalog", timeout=30).json()["tracks"]]
    answer = httpx.post(
        f"{url}/recommend",
        json={"track_ids": ids, "age": 30, "gender": "female", "mood": 2, "k": 3},
        timeout=60,
    ).json()
    assert len(answer["tracks"]) == 3
    profile = answer["tracks"][0]["profile"]
    assert profile["package"] == PACKAGE and re.fullmatch(r"[\d.+~a-z:-]+", profile["version"])
    assert profile["licence"] == "GPL-2" and profile["title"] and profile["artist"]
    audio = f"{url}{profile['audio_url']}"
    whole = httpx.get(audio, timeout=60)
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/ogg"
    assert whole.headers.get("accept-ranges") == "bytes"
    part = httpx.get(audio, headers={"Range": "bytes=1000-1999"}, timeout=60)
    assert part.status_code == 206 and part.content == whole.content[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(whole.content)}"
    tail = httpx.get(audio, headers={"Range": f"bytes={len(whole.content) - 10}-"}, timeout=60)
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    # the licence text of the package, looked up in the catalog (never a path from the request)
    licence = httpx.get(f"{url}{profile['licence_url']}", timeout=30)
    assert licence.status_code == 200 and "GPL-2" in licence.text and "Files:" in licence.text
    for bad in ("no-such-package", "..%2F..%2Fetc%2Fpasswd"):
        assert httpx.get(f"{url}/ui/licence/{bad}", timeout=30).status_code == 404
    assert httpx.get(f"{url}/ui/audio/not-a-track", timeout=30).status_code == 404


def test_text_recommends_real_tracks_by_their_audio_emotion(url):
    body = {"text": "今天好开心，快乐极了", "k": 3, "mode": "match"}
    answer = httpx.post(f"{url}/recommend_text", json=body, timeout=60).json()
    assert len(answer["tracks"]) == 3
    assert all(t["in_catalog"] and t["profile"]["package"] == PACKAGE for t in answer["tracks"])
    distances = [t["distance"] for t in answer["tracks"]]
    assert distances == sorted(distances)
    # by default the policy ranks the real catalog from the text's state
    calm = httpx.post(f"{url}/recommend_text", json={**body, "mode": "calm"}, timeout=60).json()
    assert calm["state"]["valence"] > 0.2 and len(calm["tracks"]) == 3
    assert all(t["profile"]["package"] == PACKAGE and "toward calm" in t["reason"] for t in calm["tracks"])


@pytest.mark.browser
def test_the_page_plays_a_real_track_and_credits_it(page):
    page.goto("/ui/")
    page.wait_for_selector("#catalog-list input[type=checkbox]")
    assert PACKAGE in page.locator("#catalog-list").text_content()
    page.click("#btn-pick-random")
    page.fill("#age", "35")
    page.select_option("#gender", "female")
    page.select_option("#mood", "3")
    page.fill("#k", "3")
    page.click("#btn-recommend")
    page.wait_for_selector("#results li.track")
    first = page.locator("#results li.track").first
    credit = first.locator(".credit")
    assert (
        f"from Debian package {PACKAGE}" in credit.text_content()
        and "licence: GPL-2" in credit.text_content()
    )
    assert credit.locator("a").get_attribute("href") == f"/ui/licence/{PACKAGE}"
    # play it: the browser fetches the stream (ranges) and the playhead moves
    played = page.evaluate(
        """async () => { const a = document.querySelector('#results li.track audio'); a.muted = true;
             await a.play(); await new Promise((ok) => setTimeout(ok, 1500));
             const t = a.currentTime; a.pause(); return t; }"""
    )
    assert played > 0.3
