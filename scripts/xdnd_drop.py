#!/usr/bin/env python3
"""Drops files on a window by name, as a file manager does on X11 (the XDND protocol,
version 5): for testing drag and drop into Inkread under Xvfb, where no person can drag.

    DISPLAY=:98 python scripts/xdnd_drop.py --window Inkread FILE...

Needs python-xlib (`pip install python-xlib`). Exits non-zero if the window does not accept
the drop or never asks for the files.
"""

import argparse
import sys
import time
from pathlib import Path

from Xlib import X, display, protocol


def find_window(root, name):
    """The first window (depth first) whose WM_NAME is `name`."""
    stack = [root]
    while stack:
        window = stack.pop()
        try:
            if window.get_wm_name() == name:
                return window
            stack.extend(window.query_tree().children)
        except Exception:  # windows come and go
            continue
    return None


def aware_window(window, aware):
    """The window itself or its first descendant with XdndAware (the drop target)."""
    stack = [window]
    while stack:
        w = stack.pop()
        if w.get_full_property(aware, X.AnyPropertyType) is not None:
            return w
        stack.extend(w.query_tree().children)
    return None


def send(d, target, kind, data):
    event = protocol.event.ClientMessage(
        window=target, client_type=kind, data=(32, (data + [0] * 5)[:5]))
    target.send_event(event, event_mask=X.NoEventMask)
    d.flush()


def wait_for(d, predicate, seconds, answer):
    """The first event that `predicate` accepts; requests for the files are answered with
    `answer` whenever they come (winit asks while the pointer moves, before the drop)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        while d.pending_events():
            event = d.next_event()
            if event.type == X.SelectionRequest:
                answer(event)
            if predicate(event):
                return event
        time.sleep(0.02)
    return None


def answer_with(d, uris, asked):
    def answer(request):
        request.requestor.change_property(request.property, request.target, 8, uris)
        notify = protocol.event.SelectionNotify(
            time=request.time, requestor=request.requestor, selection=request.selection,
            target=request.target, property=request.property)
        request.requestor.send_event(notify)
        d.flush()
        asked.append(request)
    return answer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", default="Inkread")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    uris = "".join(Path(f).resolve().as_uri() + "\r\n" for f in args.files).encode()

    d = display.Display()
    atom = lambda name: d.intern_atom(name)  # noqa: E731
    aware, selection, uri_list = atom("XdndAware"), atom("XdndSelection"), atom("text/uri-list")
    root = d.screen().root
    top = find_window(root, args.window)
    if top is None:
        sys.exit(f"no window named {args.window!r}")
    target = aware_window(top, aware)
    if target is None:
        sys.exit(f"{args.window!r} does not accept drops (no XdndAware)")
    source = root.create_window(0, 0, 1, 1, 0, X.CopyFromParent)
    source.set_selection_owner(selection, X.CurrentTime)

    geometry = top.get_geometry()
    origin = top.translate_coords(root, 0, 0)
    x, y = -origin.x + geometry.width // 2, -origin.y + geometry.height // 2
    send(d, target, atom("XdndEnter"), [source.id, 5 << 24, uri_list, 0, 0])
    send(d, target, atom("XdndPosition"), [source.id, 0, (x << 16) | y, X.CurrentTime,
                                            atom("XdndActionCopy")])
    asked = []
    answer = answer_with(d, uris, asked)
    is_message = lambda e, name: e.type == X.ClientMessage and e.client_type == atom(name)  # noqa: E731
    status = wait_for(d, lambda e: is_message(e, "XdndStatus"), 5, answer)
    if status is None or not status.data[1][1] & 1:
        sys.exit("the window did not accept the drop")
    send(d, target, atom("XdndDrop"), [source.id, 0, X.CurrentTime])
    finished = wait_for(d, lambda e: is_message(e, "XdndFinished"), 10, answer)
    if not asked:
        sys.exit("the window never asked for the dropped files")
    print("dropped", len(args.files), "file(s);", "finished" if finished else "no XdndFinished")


if __name__ == "__main__":
    main()
