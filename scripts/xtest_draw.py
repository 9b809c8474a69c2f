#!/usr/bin/env python3
"""Writes text on Inkread's sketchpad with the mouse, as a person would, under Xvfb.

The strokes are those of a Hershey single-stroke script font (the `Hershey-Fonts` package),
drawn by dragging the X pointer through the XTEST extension, so the app gets real press,
motion and release events. Then it can click a point (a button) and save a screenshot of
the whole screen. For the README's picture and for trying the sketchpad by hand:

    DISPLAY=:98 python scripts/xtest_draw.py --at 330,170 --text "Meet me at noon" \\
        --click 0,0 --shot docs/img/sketch.png

Needs python-xlib, Pillow and Hershey-Fonts (`pip install python-xlib pillow Hershey-Fonts`).
"""

import argparse
import time

from HersheyFonts import HersheyFonts
from PIL import Image
from Xlib import X, display
from Xlib.ext import xtest


def point(text):
    x, y = text.split(",")
    return int(x), int(y)


def strokes(text, font, height):
    """Strokes of `text` as lists of screen-relative points, y growing downwards."""
    hershey = HersheyFonts()
    hershey.load_default_font(font)
    hershey.normalize_rendering(height)
    out = []
    for stroke in hershey.strokes_for_text(text):
        out.append([(x, -y) for x, y in stroke])
    return out


def drag(d, path, step_s):
    x, y = path[0]
    xtest.fake_input(d, X.MotionNotify, x=int(x), y=int(y))
    d.sync()
    time.sleep(step_s)
    xtest.fake_input(d, X.ButtonPress, 1)
    d.sync()
    for x, y in path[1:]:
        time.sleep(step_s)
        xtest.fake_input(d, X.MotionNotify, x=int(x), y=int(y))
        d.sync()
    time.sleep(step_s)
    xtest.fake_input(d, X.ButtonRelease, 1)
    d.sync()
    time.sleep(step_s * 3)


def densify(path, spacing=3.0):
    """Points every few pixels along the path, as a hand moving a mouse reports them."""
    out = [path[0]]
    for (x0, y0), (x1, y1) in zip(path, path[1:]):
        n = max(1, int(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 / spacing))
        out.extend((x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1))
    return out


def screenshot(d, path):
    root = d.screen().root
    geometry = root.get_geometry()
    raw = root.get_image(0, 0, geometry.width, geometry.height, X.ZPixmap, 0xFFFFFFFF)
    Image.frombytes("RGB", (geometry.width, geometry.height), raw.data, "raw", "BGRX").save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--at", type=point, help="screen point where the text's baseline starts")
    ap.add_argument("--text", default="")
    ap.add_argument("--font", default="scripts", help="a Hershey font name (scripts: script simplex)")
    ap.add_argument("--height", type=float, default=60.0, help="text height in pixels")
    ap.add_argument("--step", type=float, default=0.004, help="seconds between pointer samples")
    ap.add_argument("--click", type=point, action="append", default=[])
    ap.add_argument("--wait", type=float, default=0.0, help="seconds to wait before the screenshot")
    ap.add_argument("--shot")
    args = ap.parse_args()
    d = display.Display()
    if args.text:
        ox, oy = args.at
        for stroke in strokes(args.text, args.font, args.height):
            drag(d, densify([(ox + x, oy + y) for x, y in stroke]), args.step)
    for x, y in args.click:
        xtest.fake_input(d, X.MotionNotify, x=x, y=y)
        d.sync()
        time.sleep(0.1)
        xtest.fake_input(d, X.ButtonPress, 1)
        d.sync()
        time.sleep(0.05)
        xtest.fake_input(d, X.ButtonRelease, 1)
        d.sync()
        time.sleep(0.3)
    time.sleep(args.wait)
    if args.shot:
        screenshot(d, args.shot)


if __name__ == "__main__":
    main()
