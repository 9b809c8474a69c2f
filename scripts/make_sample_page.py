#!/usr/bin/env python3
"""Draws assets/sample-page.png: a short typewritten letter with our own words, used for the
README screenshot (no evaluation data may appear there). Needs Pillow and a monospaced
system font (DejaVu Sans Mono, else Nimbus Mono or Noto Sans Mono).

    python3 scripts/make_sample_page.py [OUT.png]
"""

import random
import sys
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Regular.otf",
    "/usr/share/fonts/truetype/noto/NotoSansMono-Regular.ttf",
]

TITLE = "Notes from the reading room"

PARAGRAPHS = [
    "Tuesday, 4 March. The new lamp arrived this morning and the whole table looks "
    "different under it. I spent an hour sorting the old letters by year before lunch.",
    "Most of them are short: a few lines about the weather, the price of coal, a cousin "
    "who moved to the coast. Some are hard to read, but the typed ones are easy.",
    "Tomorrow I will copy the list of names into the ledger and send the parcel to the "
    "library. Remember to buy stamps, string and a new ribbon for the typewriter.",
]

WIDTH, HEIGHT = 1000, 580
MARGIN = 70
FONT_SIZE = 22
COLUMNS = 62


def find_font(size):
    for path in FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    sys.exit("no monospaced font found; install fonts-dejavu-core")


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("assets/sample-page.png")
    rng = random.Random(7)  # fixed: the page is the same on every run
    page = Image.new("L", (WIDTH, HEIGHT), 250)
    draw = ImageDraw.Draw(page)
    font = find_font(FONT_SIZE)
    title_font = find_font(FONT_SIZE + 6)
    line_height = int(FONT_SIZE * 1.6)

    y = MARGIN
    draw.text((MARGIN, y), TITLE, font=title_font, fill=30)
    y += line_height * 2
    for paragraph in PARAGRAPHS:
        for line in textwrap.wrap(paragraph, COLUMNS):
            # A typewriter strikes each line a little unevenly.
            x = MARGIN + rng.randint(-1, 1)
            draw.text((x, y + rng.randint(-1, 1)), line, font=font, fill=rng.randint(20, 45))
            y += line_height
        y += line_height // 2

    # A touch of blur, as on a scan of paper.
    page = page.filter(ImageFilter.GaussianBlur(0.5))
    out.parent.mkdir(parents=True, exist_ok=True)
    page.save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
