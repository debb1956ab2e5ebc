"""The web page takes an optional resting baseline for the HRV reading (issue 15), in a real
browser (Debian's chromium driven by Playwright against the served page, as
tests/test_service_browser.py): the reading shows the change from the listener's own rest, the
feedback is read against it and stores it. Over HTTP, a 5-minute 1000 Hz ECG CSV (~2.7 MB) reads
and a signal longer than ``service.max_hrv_signal_seconds`` is refused with a message."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import numpy as np
import pytest

from moodtune.feedback import FeedbackStore, default_url
from moodtune.hrv import metrics
from moodtune.settings import get_settings

HRV = get_settings().hrv  # the hrv section of params.yaml, given to the HRV code

pytestmark = [pytest.mark.browser, pytest.mark.service, pytest.mark.slow]
SHOTS = Path(__file__).resolve().parent.parent / ".logs" / "browser"


@pytest.fixture(scope="module")
def service_stack(_shared_service):
    """The session's shared service (tests/conftest.py): this module moves no champion and
    counts only rows it wrote."""
    return _shared_service


def _recordings(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    from moodtune.hrv.simulate import simulate_rr, simulate_subject

    subject = simulate_subject(np.random.default_rng(21))
    rest = np.round(simulate_rr(0.0, 300, np.random.default_rng(22), subject), 1)
    now = np.round(simulate_rr(1.0, 300, np.random.default_rng(23), subject), 1)
    np.savetxt(tmp_path / "rest.txt", rest, fmt="%.1f")
    np.savetxt(tmp_path / "after-listening.txt", now, fmt="%.1f")
    return tmp_path / "after-listening.txt", tmp_path / "rest.txt", rest


def test_the_page_reads_hrv_against_an_uploaded_baseline_and_stores_it_with_the_feedback(
    page, service_stack, tmp_path
):
    now, rest_file, rest = _recordings(tmp_path)
    page.goto("/ui/")
    page.wait_for_selector("#catalog-list input[type=checkbox]")
    page.click("#btn-pick-random")
    page.fill("#age", "41")
    page.select_option("#gender", "female")
    page.select_option("#mood", "3")
    page.fill("#k", "3")
    page.click("#btn-recommend")
    page.wait_for_selector("#results li.track")
    rec_id = page.text_content("#results-meta").split()[1]
    track_id = page.locator("#results li.track").first.get_attribute("data-track-id")
    page.select_option("#feedback-track", track_id)

    # without a baseline: no baseline table
    page.set_input_files("#hrv-file", str(now))
    page.click("#btn-hrv")
    page.wait_for_selector("#stress:not([hidden])")
    assert page.locator("#hrv-baseline-read").is_hidden()

    # with the resting baseline: the change from rest, per metric, in words
    page.set_input_files("#hrv-baseline", str(rest_file))
    page.click("#btn-hrv")
    page.wait_for_selector("#hrv-baseline-read:not([hidden])")
    assert page.locator("#error").is_hidden()
    cells = {
        row.get_attribute("data-metric"): [td.text_content() for td in row.locator("td").all()]
        for row in page.locator("#hrv-baseline-read tbody tr").all()
    }
    assert set(cells) == {"RMSSD", "HF", "LF", "MEAN_RR"}
    expected = metrics(rest, HRV.metrics)
    assert float(cells["RMSSD"][1].split()[0]) == pytest.approx(expected["RMSSD"], abs=0.06)
    reading = page.evaluate("state.reading")
    share = round(100 * np.exp(reading["recording"]["dlog_RMSSD"]))
    assert cells["RMSSD"][2] == f"{share} %" and share < 100  # stressed: less RMSSD than at rest
    assert "as under stress" in cells["RMSSD"][3]

    page.click("#btn-feedback")
    page.wait_for_selector("#feedback-result:not([hidden])")
    assert "read against your resting baseline" in page.text_content("#feedback-result")
    feedback_id = int(page.get_attribute("#feedback-result", "data-feedback-id"))
    store = FeedbackStore(default_url(service_stack["settings"]), settings=service_stack["settings"])
    row = store.get_feedback(feedback_id)
    assert (row.recommendation_id, row.track_id, row.source) == (rec_id, track_id, "rr")
    assert row.stress_level == reading["level"]
    assert row.baseline == pytest.approx(expected, rel=1e-5)  # stored with the row, for retraining
    replay = store.feedback_since(feedback_id - 1)
    assert replay["baseline_HF"].iloc[0] == pytest.approx(expected["HF"], rel=1e-5)
    store.close()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "hrv_baseline.png"), full_page=True)


def test_a_five_minute_1000_hz_ecg_is_read_over_http_and_a_long_signal_is_refused(service_stack):
    systole = pytest.importorskip("systole")
    ecg = np.load(os.path.join(os.path.dirname(systole.__file__), "datasets", "Task1_ECG.npy"))
    five = ("# sampling_rate: 1000\necg\n" + "\n".join(f"{v:.4f}" for v in ecg[:300_000])).encode()
    assert (
        2_000_000 < len(five) < 2_900_000
    )  # over the old 2 MB limit; under the test stack's 3 MB request limit
    with httpx.Client(base_url=service_stack["url"], timeout=120) as client:
        answer = client.post("/analyze_hrv", files={"file": ("strap.csv", five)})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["source"] == "rr" and 300 < body["recording"]["n_intervals"] < 500
        assert 50 < body["metrics"]["HR"] < 120
        seconds = service_stack["settings"].service.max_hrv_signal_seconds
        long = "# sampling_rate: 250\necg\n" + "\n".join(
            f"{v:.2f}" for v in ecg[: int((seconds + 60) * 1000) : 4]
        )
        refused = client.post("/analyze_hrv", files={"file": ("long.csv", long.encode())})
        assert refused.status_code == 413 and f"longer than {seconds:g} s" in refused.text, refused.text
