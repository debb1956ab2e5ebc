"""The API docs page at ``/`` in a real browser (Debian's chromium driven by Playwright against the
served page, as tests/test_service_browser.py; issue 31): Try it out -> Execute on /recommend
answers 200 with the JSON example as it is, every operation has a summary, the server is "/",
and no example on the page shows ``additionalProp1`` or a ``...IODescriptor`` name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.service, pytest.mark.slow]
SHOTS = Path(__file__).resolve().parent.parent / ".logs" / "browser"


@pytest.fixture(scope="module")
def service_stack(_shared_service):
    """The session's shared service (tests/conftest.py): this module moves no champion and
    counts no rows."""
    return _shared_service


def _operation(page, path: str):
    return page.locator(".opblock-post").filter(
        has=page.locator(f".opblock-summary-path[data-path='{path}']")
    )


def test_try_it_out_executes_recommend_with_its_example(page, service_stack):
    page.goto("/")
    page.wait_for_selector(".opblock-summary")
    assert page.locator(".servers select option").all_text_contents() == ["/ - this service"]
    summaries = page.locator(".opblock-summary-description").all_text_contents()
    assert len(summaries) == page.locator(".opblock").count() >= 11 and all(s.strip() for s in summaries), (
        summaries
    )
    op = _operation(page, "/recommend")
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    assert op.locator(".body-param-content-type select").input_value() == "application/json"
    assert '"track_ids"' in op.locator("textarea.body-param__text").input_value()
    op.locator("button.execute").click()
    status = op.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    body = op.locator(".live-responses-table tbody .response-col_description pre").first.text_content()
    assert status.text_content().strip() == "200", body
    assert '"recommendation_id"' in body and '"tracks"' in body
    assert op.locator(".request-url pre").text_content() == service_stack["url"] + "/recommend"  # server "/"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "api_docs.png"), full_page=True)


def test_no_example_on_the_page_is_made_up(page):
    page.goto("/")
    page.wait_for_selector(".opblock-summary")
    for summary in page.locator(".opblock-summary").all():  # open every operation: its examples render
        summary.click()
    page.wait_for_selector(".opblock-body")
    assert page.locator(".opblock-body").count() == page.locator(".opblock").count()
    shown = page.locator(".swagger-ui").inner_text()
    assert "Example Value" in shown and '"track_id"' in shown
    assert not re.search(r"additionalProp\d", shown), "an open map without an example"
    assert "IODescriptor" not in page.content()
