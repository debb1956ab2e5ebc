"""The page ships its CJK font (issue 31): on a machine without any CJK font, Chinese is drawn with
the web font Noto Sans SC (bento/web/static/fonts/), not as boxes. Chromium runs with a
fontconfig that knows only DejaVu (Latin, no CJK), against the shared served page."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import browser_page, rendering_fonts

pytestmark = [pytest.mark.browser, pytest.mark.service, pytest.mark.slow]
LATIN_ONLY = Path("/usr/share/fonts/truetype/dejavu")
SHOTS = Path(__file__).resolve().parent.parent / ".logs" / "browser"


@pytest.fixture(scope="module")
def service_stack(_shared_service):
    """The session's shared service (tests/conftest.py): this module moves no champion and
    counts no rows."""
    return _shared_service


def latin_only_fontconfig(tmp: Path) -> dict[str, str]:
    """The environment of a process whose fontconfig lists only DejaVu's directory (checked:
    ``fc-list :lang=zh`` finds nothing there)."""
    assert any(LATIN_ONLY.glob("DejaVuSans*.ttf")), "install Debian fonts-dejavu-core"
    conf = tmp / "fonts.conf"
    conf.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>{LATIN_ONLY}</dir><cachedir>{tmp / "cache"}</cachedir></fontconfig>
""")
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    if shutil.which("fc-list"):
        assert (
            subprocess.run(
                ["fc-list", ":lang=zh", "family"], env=env, capture_output=True, text=True
            ).stdout.strip()
            == ""
        )
        assert "DejaVu" in subprocess.run(["fc-list"], env=env, capture_output=True, text=True).stdout
    return env


@pytest.fixture(scope="module")
def latin_page(service_stack, tmp_path_factory):
    """A page in a Chromium that has no CJK font; fails on any JavaScript error."""
    env = latin_only_fontconfig(tmp_path_factory.mktemp("latin_fonts"))
    with browser_page(service_stack["url"], env) as page:
        yield page


# Two different characters drawn with a node's own font on a canvas: real glyphs differ, tofu
# boxes (the same .notdef box for every missing character) do not; and their advance, 1 em for a
# CJK glyph, is the .notdef box's own for tofu.
DRAW = """([selector, a, b]) => {
  const font = getComputedStyle(document.querySelector(selector)).fontFamily;
  const draw = (ch) => {
    const c = document.createElement("canvas"); c.width = c.height = 64;
    const g = c.getContext("2d"); g.font = `48px ${font}`; g.textBaseline = "top"; g.fillText(ch, 8, 8);
    return {pixels: Array.from(g.getImageData(0, 0, 64, 64).data).join(","), width: g.measureText(ch).width};
  };
  const [x, y] = [draw(a), draw(b)];
  return {font, same: x.pixels === y.pixels, inked: x.pixels.split(",").some((v) => v !== "0"),
          widths: [x.width, y.width]};
}"""


def test_chinese_renders_with_the_shipped_font_without_any_system_cjk_font(latin_page):
    page = latin_page
    page.goto("/ui/")
    page.wait_for_selector("#catalog-list input[type=checkbox]")
    page.click("#alt-inputs summary")
    page.fill("#text", "想念你，好难过")
    page.click("#btn-text")
    page.wait_for_selector("#detected .chips span")
    assert "哀 sorrow" in page.text_content("#detected")
    # the web font was fetched and is what Chromium drew the Chinese with
    page.evaluate("document.fonts.ready.then(() => true)")
    loaded = page.evaluate("""() => [...document.fonts].filter((f) => f.status === "loaded")
                                                      .map((f) => f.family.replace(/['"]/g, ""))""")
    assert "Noto Sans SC" in loaded, loaded
    assert page.evaluate("document.fonts.check('15px \"Noto Sans SC\"', '想念难过')")
    fonts = rendering_fonts(page, "#detected .chips span")
    assert fonts and all(f.startswith("Noto Sans SC") for f in fonts), (
        fonts
    )  # its name table: "Noto Sans SC Thin"
    # real glyphs, not tofu: distinct shapes, each a full em wide
    drawn = page.evaluate(DRAW, ["#detected .chips span", "想", "难"])
    assert drawn["font"].startswith('"Noto Sans SC"'), drawn["font"]
    assert drawn["inked"] and not drawn["same"], "the two characters are drawn the same: boxes"
    assert drawn["widths"] == [48, 48], drawn["widths"]
    # Latin text keeps the system's fonts (the web font covers only CJK code points)
    assert "Noto Sans SC" not in rendering_fonts(page, "header h1")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "text_flow_latin_only_fonts.png"), full_page=True)
