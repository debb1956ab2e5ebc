"""The web page in a real browser: Debian's chromium driven by Playwright against the real
served page (`service_stack` in conftest.py). Clicks through the seed's demo flow and checks
that the feedback row landed in the database."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from moodtune.feedback import FeedbackStore, default_url

pytestmark = [pytest.mark.browser, pytest.mark.service, pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def page(service_stack):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("chromium is missing: run `make system-deps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(base_url=service_stack["url"])
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        assert not errors, f"JavaScript errors on the page: {errors}"
        context.close()
        browser.close()


def test_demo_flow_recommend_listen_read_hrv_and_save_feedback(page, service_stack, tmp_path):
    from moodtune.hrv.simulate import simulate_rr

    rr = tmp_path / "after-listening.txt"
    np.savetxt(rr, simulate_rr(0.05, 300, np.random.default_rng(11)), fmt="%.1f")

    page.goto("/ui/")
    page.wait_for_selector("#catalog-list input[type=checkbox]")
    assert page.locator("#catalog-list input[type=checkbox]").count() == 96
    page.wait_for_function("document.querySelector('#versions').textContent.startsWith('serving')")
    assert "catalog of 96 tracks" in page.text_content("#versions")

    # 1. choose songs, 2. say who you are, get the top 3
    page.click("#btn-pick-random")
    assert page.text_content("#picked-count") == "12 chosen"
    page.fill("#age", "29")
    page.select_option("#gender", "male")
    page.select_option("#mood", "2")
    page.fill("#k", "3")
    page.click("#btn-recommend")
    page.wait_for_selector("#results li.track")
    tracks = page.locator("#results li.track")
    assert tracks.count() == 3
    assert page.locator("#error").is_hidden()
    first = tracks.first
    assert "for a 29-year-old male in mood 2/5" in first.locator(".reason").text_content()
    assert first.locator("svg.bars").count() == 2  # emotion and genre charts
    # 3. listen: the player streams the catalog track by id
    track_id = first.get_attribute("data-track-id")
    assert first.locator("audio").get_attribute("src") == f"/ui/audio/{track_id}"
    playable = page.evaluate(
        """async (src) => { const a = new Audio(src); a.muted = true;
             return await new Promise((ok) => { a.oncanplay = () => ok(a.duration); a.onerror = () => ok(-1); a.load(); }); }""",
        f"/ui/audio/{track_id}")
    assert playable > 1.0  # seconds of decodable audio
    rec_text = page.text_content("#results-meta")
    rec_id = rec_text.split()[1]
    assert len(rec_id) == 32

    # 4. upload HRV, see the stress level, save the feedback
    page.select_option("#feedback-track", track_id)
    page.set_input_files("#hrv-file", str(rr))
    page.click("#btn-hrv")
    page.wait_for_selector("#stress:not([hidden])")
    level = page.text_content("#stress-level")
    assert level in ("low", "medium", "high")
    page.click("#btn-feedback")
    page.wait_for_selector("#feedback-result:not([hidden])")
    feedback_id = int(page.get_attribute("#feedback-result", "data-feedback-id"))
    assert f"stress {level}" in page.text_content("#feedback-result")

    # the row is in the database, for this recommendation and track
    store = FeedbackStore(default_url(service_stack["settings"]), settings=service_stack["settings"])
    row = store.get_feedback(feedback_id)
    assert (row.recommendation_id, row.track_id, row.stress_level, row.source) == (rec_id, track_id, level, "rr")
    assert row.client_key is not None and len(row.client_key) == 32

    # saving the same feedback again (a retry) finds the stored row instead of adding one
    page.click("#btn-feedback")
    page.wait_for_selector("#feedback-result:has-text('already saved as feedback')")
    assert int(page.get_attribute("#feedback-result", "data-feedback-id")) == feedback_id
    assert store.latest_feedback_id() == feedback_id


def test_text_flow_and_errors_are_shown(page):
    page.goto("/ui/")
    page.wait_for_selector("#catalog-list input[type=checkbox]")
    page.click("#alt-inputs summary")
    page.fill("#text", "想念你，好难过")
    page.click("#btn-text")
    page.wait_for_selector("#detected .chips span")
    words = page.locator("#detected .chips span").all_text_contents()
    assert "想念" in words and "难过" in words
    assert "哀 sorrow" in page.text_content("#detected")
    assert page.locator("#results li.track").count() == 5
    # with the listener's details filled in, the text recommendation takes feedback too
    assert page.locator("#step-feedback").is_visible()
    # a bad input shows the service's message
    page.fill("#text", "城市的街道")
    page.click("#btn-text")
    page.wait_for_selector("#error:not([hidden])")
    assert "no emotion found" in page.text_content("#error")


def test_photo_flow_shows_the_faces_and_recommends(page, tmp_path):
    from PIL import Image
    from skimage import data

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    page.goto("/ui/")
    page.wait_for_selector("#catalog-list input[type=checkbox]")
    page.click("#alt-inputs summary")
    page.set_input_files("#photo", str(photo))
    page.click("#btn-photo")
    page.wait_for_selector(".faces .box span")
    assert page.locator(".faces .box").count() == 1  # one person, boxed on the photo
    assert page.text_content(".faces .box span") == "happy"
    assert page.locator("#results li.track").count() >= 1
    assert page.locator("#error").is_hidden()
