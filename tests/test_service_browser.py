"""The web page in a real browser: Debian's chromium driven by Playwright against the real
served page (`service_stack` in conftest.py). Clicks through the seed's demo flow and checks
that the feedback row landed in the database."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import rendering_fonts

from moodtune.feedback import FeedbackStore, default_url

pytestmark = [pytest.mark.browser, pytest.mark.service, pytest.mark.slow]
SHOTS = Path(__file__).resolve().parent.parent / ".logs" / "browser"  # screenshots kept as test artifacts
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def service_stack(_shared_service):
    """The session's shared service (tests/conftest.py): this module moves no champion and
    counts only rows it wrote."""
    return _shared_service


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
    # each chart has a title and a legend; the numbers are explained in words
    assert first.locator("figure[data-chart=emotion] figcaption").text_content() == "Emotion profile (GEMS-6)"
    assert first.locator("figure[data-chart=genre] figcaption").text_content() == "Genre"
    assert "probability of each genre" in first.locator("figure[data-chart=genre] .legend").text_content()
    help_text = page.text_content("#score-help")
    assert page.locator("#score-help").is_visible() and "0–100" in help_text and "first pick" in help_text
    assert page.locator("#score-help-distance").is_hidden()  # no distances in a playlist ranking
    for i in range(tracks.count()):
        numbers = tracks.nth(i).locator(".numbers").text_content()
        assert re.search(r"match (\d+)/100", numbers) and "first pick: " in numbers, numbers
        assert "probability 0.00" not in tracks.nth(i).text_content()
    assert re.search(r"match 100/100", first.locator(".numbers").text_content())
    # 3. listen: the player streams the catalog track by id
    track_id = first.get_attribute("data-track-id")
    assert first.locator("audio").get_attribute("src") == f"/ui/audio/{track_id}"
    playable = page.evaluate(
        """async (src) => { const a = new Audio(src); a.muted = true;
             return await new Promise((ok) => { a.oncanplay = () => ok(a.duration); a.onerror = () => ok(-1); a.load(); }); }""",
        f"/ui/audio/{track_id}",
    )
    assert playable > 1.0  # seconds of decodable audio
    rec_text = page.text_content("#results-meta")
    rec_id = rec_text.split()[1]
    assert len(rec_id) == 32

    # 4. upload HRV, see the stress level, save the feedback
    labels = page.locator("#feedback-track option").all_text_contents()
    profile = page.evaluate(
        "(id) => state.recommendation.tracks.find((t) => t.track_id === id).profile", track_id
    )
    assert labels[0] == " — ".join(part for part in (profile["title"], profile["artist"], "#1") if part)
    assert profile["title"] in labels[0]
    assert all(label.endswith(f" — #{rank}") for rank, label in enumerate(labels, start=1))
    page.select_option("#feedback-track", track_id)
    page.set_input_files("#hrv-file", str(rr))
    page.click("#btn-hrv")
    page.wait_for_selector("#stress:not([hidden])")
    level = page.text_content("#stress-level")
    assert level in ("low", "medium", "high")
    # the stress probabilities with a title and what they mean, and the HRV metrics read
    assert page.text_content("#stress-chart figcaption") == "Stress level"
    assert "heart-rate variability" in page.text_content("#stress .help")
    metrics = {
        row.locator("td").first.text_content(): row.locator("td").nth(1).text_content()
        for row in page.locator("#hrv-metrics tbody tr").all()
    }
    assert {"MEAN_RR", "RMSSD", "HR", "HF"} <= set(metrics) and metrics["HR"].endswith("bpm")
    assert 40 < float(metrics["HR"].split()[0]) < 200
    page.click("#btn-feedback")
    page.wait_for_selector("#feedback-result:not([hidden])")
    feedback_id = int(page.get_attribute("#feedback-result", "data-feedback-id"))
    assert f"stress {level}" in page.text_content("#feedback-result")

    # the row is in the database, for this recommendation and track
    store = FeedbackStore(default_url(service_stack["settings"]), settings=service_stack["settings"])
    row = store.get_feedback(feedback_id)
    assert (row.recommendation_id, row.track_id, row.stress_level, row.source) == (
        rec_id,
        track_id,
        level,
        "rr",
    )
    assert row.client_key is not None and len(row.client_key) == 32

    # saving the same feedback again (a retry) finds the stored row instead of adding one
    page.click("#btn-feedback")
    page.wait_for_selector("#feedback-result:has-text('already saved as feedback')")
    assert int(page.get_attribute("#feedback-result", "data-feedback-id")) == feedback_id
    assert store.latest_feedback_id() == feedback_id
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "demo_flow.png"), full_page=True)


def test_favicon_and_page_icon(page, service_stack):
    import httpx

    for path in ("/favicon.ico", "/ui/static/favicon.ico"):
        r = httpx.get(service_stack["url"] + path, timeout=10)
        assert r.status_code == 200 and r.content[:4] == b"\x00\x00\x01\x00", path  # an ICO file
    page.goto("/ui/")
    assert page.get_attribute("link[rel=icon]", "href") == "/ui/static/favicon.ico"


def _astronaut(tmp_path) -> Path:
    """A real photo with one smiling face (scikit-image's astronaut) as a JPEG file."""
    from PIL import Image
    from skimage import data

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    return photo


def _open_text_and_photo(page) -> None:
    """The page loaded, with its sentence-and-photo inputs opened."""
    page.goto("/ui/")
    page.wait_for_selector("#catalog-list input[type=checkbox]")
    page.click("#alt-inputs summary")


def test_text_flow_and_errors_are_shown(page):
    _open_text_and_photo(page)
    page.check("input[name=mode][value=match]")  # match my mood: the nearest emotions (seed B)
    page.fill("#text", "想念你，好难过")
    page.click("#btn-text")
    page.wait_for_selector("#detected .chips span")
    words = page.locator("#detected .chips span").all_text_contents()
    assert "想念" in words and "难过" in words
    assert "哀 sorrow" in page.text_content("#detected")
    assert page.locator("#results li.track").count() == 5
    assert (
        page.text_content("#detected figure[data-chart=categories] figcaption") == "Emotion categories (DLUT)"
    )
    # the text's valence-arousal point beside its categories (params.yaml turns the text rules on)
    va = page.evaluate("state.recommendation.valence_arousal")
    assert va is not None and va["valence"] < 0, va  # 想念你，好难过 is unpleasant
    caption = page.text_content("#detected figure[data-chart=valence-arousal] .legend")
    assert f"valence {va['valence']:.2f}" in caption and f"arousal {va['arousal']:.2f}" in caption
    assert page.locator("#detected figure[data-chart=valence-arousal]").is_visible()
    assert page.evaluate("state.recommendation.mode") == "match"
    assert (
        page.locator("#score-help-distance").is_visible() and page.locator("#score-help-policy").is_hidden()
    )
    # Chinese is drawn with the page's own web font, Noto Sans SC, not as boxes (without any system
    # CJK font too: tests/test_webfont_browser.py)
    fonts = rendering_fonts(page, "#detected .chips span")
    assert any(f.startswith("Noto Sans SC") for f in fonts), fonts
    titles = page.locator("#results li.track h3").all_text_contents()
    chinese = [i for i, title in enumerate(titles) if CJK.search(title)]
    if chinese:
        fonts = rendering_fonts(page, f"#results li.track:nth-child({chinese[0] + 1}) h3")
        assert any(f.startswith("Noto Sans SC") for f in fonts), fonts
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "text_flow.png"), full_page=True)
    assert (SHOTS / "text_flow.png").stat().st_size > 10_000
    # with the listener's details filled in, the text recommendation takes feedback too
    assert page.locator("#step-feedback").is_visible()
    # a bad input shows the service's message
    page.fill("#text", "城市的街道")
    page.click("#btn-text")
    page.wait_for_selector("#error:not([hidden])")
    assert "no emotion found" in page.text_content("#error")


def _profile_arousal(page) -> float:
    return page.evaluate(
        "state.recommendation.tracks.reduce((s, t) => s + t.profile.arousal, 0)"
        " / state.recommendation.tracks.length"
    )


def test_a_stress_sentence_shows_the_state_and_recommends_toward_calm(page):
    """The walk of issue 31: a Chinese sentence about stress → the listener state on the page
    (tense, unpleasant, with its uncertainty) → the policy's songs toward calm, with reasons;
    "match my mood" gives the tenser songs nearest the state instead."""
    _open_text_and_photo(page)
    assert page.is_checked("input[name=mode][value=calm]") and not page.is_checked("#use-mood")
    page.fill("#text", "最近压力很大，睡不着")
    page.click("#btn-text")
    page.wait_for_selector("#listener-state .state-summary")
    summary = page.text_content("#listener-state .state-summary")
    assert summary.startswith("unpleasant and tense") and "high" in summary and "from text" in summary, (
        summary
    )
    assert page.get_attribute("#listener-state", "data-stress-level") == "high"
    assert page.locator("#listener-state svg ellipse.uncertainty").count() == 1  # the state's sd, drawn
    st = page.evaluate("state.recommendation.state")
    assert "±" in page.text_content("#listener-state figure[data-chart=state] .legend")
    assert f"{st['stress']:.2f} ± {st['stress_sd']:.2f}" in page.text_content("#listener-state")
    assert "text: valence" in page.text_content("#listener-state .state-sources")
    reasons = page.locator("#results li.track .reason").all_text_contents()
    assert len(reasons) == 5 and all("toward calm" in r for r in reasons), reasons
    assert page.locator("#score-help-policy").is_visible()  # the policy's match and first-pick numbers
    assert page.evaluate("state.recommendation.mode") == "calm"
    assert page.locator("#step-feedback").is_visible()  # age and gender given: logged, takes feedback
    calm_arousal = _profile_arousal(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "state_text_calm.png"), full_page=True)
    page.check("input[name=mode][value=match]")
    page.click("#btn-text")
    page.wait_for_function("state.recommendation.mode === 'match'")
    assert _profile_arousal(page) > calm_arousal  # matching a tense state picks tenser songs
    assert "toward calm" not in page.text_content("#results")


def test_a_photo_shows_the_state_and_recommends_toward_calm(page, tmp_path):
    photo = _astronaut(tmp_path)
    _open_text_and_photo(page)
    page.select_option("#mood", "5")
    page.check("#use-mood")  # the form's mood (5, happy) joins the photo's point
    page.set_input_files("#photo", str(photo))
    page.click("#btn-photo")
    page.wait_for_selector("#listener-state .state-summary")
    st = page.evaluate("state.recommendation.state")
    assert [s["source"] for s in st["sources"]] == ["form", "photo"]
    photo_says = st["sources"][1]["valence"]
    assert 0 < photo_says < st["valence"] and st["valence_sd"] < 0.25  # a smile, and the form's happy mood
    assert page.text_content("#listener-state .state-summary").startswith("pleasant")
    reasons = page.locator("#results li.track .reason").all_text_contents()
    assert reasons and all("toward calm" in r for r in reasons)
    assert page.locator(".faces .box").count() == 1
    page.screenshot(path=str(SHOTS / "state_photo_calm.png"), full_page=True)


def test_photo_flow_shows_the_faces_and_recommends(page, tmp_path):
    photo = _astronaut(tmp_path)
    _open_text_and_photo(page)
    page.set_input_files("#photo", str(photo))
    page.click("#btn-photo")
    page.wait_for_selector(".faces .box span")
    assert page.locator(".faces .box").count() == 1  # one person, boxed on the photo
    assert page.text_content(".faces .box span") == "happy"
    assert page.locator("#results li.track").count() >= 1
    assert page.locator("#error").is_hidden()
