"""Draws Inkread's icon: a sheet of paper with a handwritten stroke and a blue ink drop.

Run: python assets/make_icon.py  (needs Pillow); writes icon-256.png and icon-64.png here.
"""
import math
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 1024  # drawn large, then scaled down for smooth edges
HERE = Path(__file__).resolve().parent


def draw() -> Image.Image:
    img = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    # Rounded square background in deep ink blue.
    d.rounded_rectangle((40, 40, SIZE - 40, SIZE - 40), radius=200, fill=(28, 62, 132, 255))
    # A slightly tilted sheet of paper.
    sheet = [(230, 170), (810, 210), (780, 860), (200, 820)]
    d.polygon(sheet, fill=(250, 249, 244, 255))
    # Ruled lines on the sheet.
    for k in range(3):
        y0 = 390 + k * 150
        d.line([(250, y0 - 6 + k * 2), (770, y0 + 30 + k * 2)], fill=(190, 208, 232, 255), width=10)
    # A handwritten loop stroke, like cursive "ee", made of short segments.
    points = []
    for i in range(400):
        t = i / 399
        x = 280 + 460 * t
        y = 520 + 10 * t + 60 * math.sin(t * 2 * math.pi * 2.5) * (0.6 + 0.4 * math.cos(t * 6))
        points.append((x, y))
    d.line(points, fill=(20, 28, 48, 255), width=34, joint="curve")
    # A detection box around the word, in the app's "confident" green.
    d.rectangle((262, 430, 760, 620), outline=(40, 170, 70, 255), width=16)
    return img


def main() -> None:
    big = draw()
    for side in (256, 64):
        big.resize((side, side), Image.LANCZOS).save(HERE / f"icon-{side}.png", optimize=True)


if __name__ == "__main__":
    main()
