"""Build the web page's CJK web font (bento/web/static/fonts/) from the npm package
``@fontsource/noto-sans-sc`` (Noto Sans SC, SIL OFL 1.1): ``python scripts/webfont.py [TGZ]``.

Without TGZ the package is fetched from the npm registry and checked against its published
SHA-1. Kept: the regular weight's woff2 files whose unicode ranges reach CJK (U+2E80 and up:
radicals, CJK punctuation, kana, ideographs, full-width forms; not emoji), each range clipped
there, so the face draws only CJK and Latin keeps the page's own fonts; ``noto-sans-sc.css`` with one
``@font-face`` per file (the browser fetches only the files whose characters a page shows); and
the licence as ``OFL.txt``. See docs/fonts.md."""

from __future__ import annotations

import hashlib
import io
import re
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "5.3.0"
URL = f"https://registry.npmjs.org/@fontsource/noto-sans-sc/-/noto-sans-sc-{VERSION}.tgz"
SHA1 = "5df64cc7a87c9c2ca0f07d0c351b76c1a2c2110a"  # the registry's dist.shasum of that version
FIRST_CJK = 0x2E80
EMOJI = (0x1F000, 0x1FAFF)  # left to the system's colour emoji font
OUT = Path(__file__).resolve().parent.parent / "bento" / "web" / "static" / "fonts"
FACE = re.compile(r"@font-face \{(.*?)\}", re.S)


def clip(ranges: str, first: int = FIRST_CJK) -> str:
    """A CSS ``unicode-range`` value cut to the code points from ``first`` up, emoji left out
    ("" if nothing is left)."""
    kept = []
    for part in ranges.split(","):
        lo, _, hi = part.strip().removeprefix("U+").partition("-")
        a, b = max(int(lo, 16), first), int(hi or lo, 16)
        pieces = [(a, min(b, EMOJI[0] - 1)), (max(a, EMOJI[1] + 1), b)]
        kept += [f"U+{x:x}" if x == y else f"U+{x:x}-{y:x}" for x, y in pieces if x <= y]
    return ",".join(kept)


def build(tgz: bytes, out: Path = OUT) -> list[str]:
    """Write the font files, their CSS and the licence under ``out``; return the files written."""
    with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
        css = tar.extractfile("package/400.css").read().decode()
        licence = tar.extractfile("package/LICENSE").read()
        faces, files = [], []
        for body in FACE.findall(css):
            name = re.search(r"url\(\./files/([^)]+\.woff2)\)", body).group(1)
            ranges = clip(re.search(r"unicode-range: ([^;]+);", body).group(1))
            if not re.fullmatch(r"noto-sans-sc-\d+-400-normal\.woff2", name) or not ranges:
                continue  # the latin/cyrillic/vietnamese subsets, or nothing in CJK
            (out / "noto-sans-sc").mkdir(parents=True, exist_ok=True)
            (out / "noto-sans-sc" / name).write_bytes(tar.extractfile(f"package/files/{name}").read())
            files.append(name)
            faces.append(
                "@font-face {\n  font-family: 'Noto Sans SC';\n  font-style: normal;\n"
                "  font-display: swap;\n  font-weight: 400;\n"
                f"  src: url(./noto-sans-sc/{name}) format('woff2');\n  unicode-range: {ranges};\n}}\n"
            )
    header = (
        f"/* Noto Sans SC {VERSION} (@fontsource/noto-sans-sc), SIL Open Font License 1.1: OFL.txt.\n"
        "   Built by scripts/webfont.py: CJK ranges only, so Latin keeps the page's fonts. */\n"
    )
    (out / "noto-sans-sc.css").write_text(header + "\n".join(faces))
    (out / "OFL.txt").write_bytes(licence)
    return files


def main(argv: list[str]) -> None:
    if argv:
        data = Path(argv[0]).read_bytes()
    else:
        with urllib.request.urlopen(URL, timeout=120) as r:
            data = r.read()
    if hashlib.sha1(data).hexdigest() != SHA1:
        raise SystemExit(f"the package is not @fontsource/noto-sans-sc {VERSION} (SHA-1 differs)")
    files = build(data)
    size = sum((OUT / "noto-sans-sc" / f).stat().st_size for f in files)
    print(f"{len(files)} woff2 files, {size / 1e6:.1f} MB, in {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
