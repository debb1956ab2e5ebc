"""The page's CJK web font as shipped (bento/web/static/fonts/, built by scripts/webfont.py from
@fontsource/noto-sans-sc; issue 31): CJK ranges only, every file named by the CSS, small, with
its licence. That Chromium draws Chinese with it: tests/test_webfont_browser.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FONTS = ROOT / "bento" / "web" / "static" / "fonts"


def _webfont():
    spec = importlib.util.spec_from_file_location("webfont", ROOT / "scripts" / "webfont.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_unicode_ranges_are_cut_to_cjk_without_emoji():
    clip = _webfont().clip
    assert clip("U+20-7e,U+a0-ff") == ""  # Latin stays with the page's other fonts
    assert clip("U+2000-2fff,U+3000,U+4e00-4e10") == "U+2e80-2fff,U+3000,U+4e00-4e10"
    assert clip("U+1f300-1f3ff,U+1f000-20010") == "U+1fb00-20010"


def test_the_font_is_shipped_small_with_its_licence():
    files = sorted((FONTS / "noto-sans-sc").glob("*.woff2"))
    css = (FONTS / "noto-sans-sc.css").read_text()
    assert len(files) == css.count("@font-face") > 50
    assert all(f"url(./noto-sans-sc/{f.name}) format('woff2')" in css for f in files)
    assert css.count("font-family: 'Noto Sans SC';") == len(files)
    assert sum(f.stat().st_size for f in files) < 6_000_000
    assert "SIL OPEN FONT LICENSE Version 1.1" in (FONTS / "OFL.txt").read_text()
    # the page loads it, and names it first
    assert (
        '<link rel="stylesheet" href="/ui/static/fonts/noto-sans-sc.css">'
        in (ROOT / "bento" / "web" / "index.html").read_text()
    )
    style = (ROOT / "bento" / "web" / "static" / "style.css").read_text()
    assert style.split("body { font: 15px/1.45 ", 1)[1].startswith('"Noto Sans SC",')
