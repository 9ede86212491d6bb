#!/usr/bin/env python3
"""Generate MetaOffice's demo office: the tileset and the Tiled map.

Writes, deterministically (same bytes on every run):

    maps/tiles/office.png     the tileset, 32x32 px tiles, drawn by this script
    maps/tiles/office.tsj     the same tileset as an external Tiled tileset
                              (for editing in Tiled; the map embeds its own copy)
    maps/demo.tmj             the demo office map (Tiled 1.10 JSON, CSV layers)

then validates the map (layer sizes, GID ranges, free spawn tiles, every free
floor tile reachable from the spawns) and exits non-zero if anything is off.

Usage (from the repository root):

    python3 tools/demo-office/generate.py [--preview PATH] [--scale S]

--preview PATH also renders the whole map (with zone outlines) to a PNG;
--scale is the preview's pixels per map pixel (default 0.5, also 0.25 or 1).

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import struct
import sys
import zlib
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TILESET_PNG = ROOT / "maps" / "tiles" / "office.png"
TILESET_TSJ = ROOT / "maps" / "tiles" / "office.tsj"
MAP_TMJ = ROOT / "maps" / "demo.tmj"

TILE = 32
COLUMNS = 8
TILED_VERSION = "1.10.2"

# --------------------------------------------------------------------------
# PNG and a tiny RGBA canvas
# --------------------------------------------------------------------------


def write_png(path: Path, width: int, height: int, rgba: bytes | bytearray) -> None:
    """Writes 8-bit RGBA pixels (row by row) as a PNG."""
    raw = bytearray()
    stride = width * 4
    for y in range(height):
        raw.append(0)  # filter: none
        raw += rgba[y * stride:(y + 1) * stride]

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    png += chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)


def clamp(v: float) -> int:
    return 0 if v < 0 else 255 if v > 255 else int(round(v))


def add(c, d):
    """Brightens (d > 0) or darkens a colour by d, keeping alpha."""
    a = c[3] if len(c) > 3 else 255
    return (clamp(c[0] + d), clamp(c[1] + d), clamp(c[2] + d), a)


def mix(c1, c2, t):
    a1 = c1[3] if len(c1) > 3 else 255
    a2 = c2[3] if len(c2) > 3 else 255
    return tuple(clamp(c1[i] + (c2[i] - c1[i]) * t) for i in range(3)) + (clamp(a1 + (a2 - a1) * t),)


def rgba(c, a=None):
    if a is not None:
        return (c[0], c[1], c[2], a)
    return c if len(c) == 4 else (c[0], c[1], c[2], 255)


class Canvas:
    def __init__(self, w: int, h: int):
        self.w, self.h = w, h
        self.buf = bytearray(w * h * 4)

    def get(self, x, y):
        i = (y * self.w + x) * 4
        return tuple(self.buf[i:i + 4])

    def set(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 4
            self.buf[i:i + 4] = bytes(rgba(c))

    def px(self, x, y, c):
        """Source-over blends colour c onto pixel (x, y)."""
        if not (0 <= x < self.w and 0 <= y < self.h):
            return
        c = rgba(c)
        sa = c[3]
        if sa == 0:
            return
        i = (y * self.w + x) * 4
        if sa == 255:
            self.buf[i:i + 4] = bytes(c)
            return
        b = self.buf
        da = b[i + 3]
        oa = sa + da * (255 - sa) / 255
        for k in range(3):
            b[i + k] = clamp((c[k] * sa + b[i + k] * da * (255 - sa) / 255) / oa)
        b[i + 3] = clamp(oa)

    def rect(self, x, y, w, h, c):
        for yy in range(y, y + h):
            for xx in range(x, x + w):
                self.px(xx, yy, c)

    def frame(self, x, y, w, h, c, t=1):
        self.rect(x, y, w, t, c)
        self.rect(x, y + h - t, w, t, c)
        self.rect(x, y + t, t, h - 2 * t, c)
        self.rect(x + w - t, y + t, t, h - 2 * t, c)

    def ellipse(self, cx, cy, rx, ry, c):
        for yy in range(math.floor(cy - ry), math.ceil(cy + ry) + 1):
            for xx in range(math.floor(cx - rx), math.ceil(cx + rx) + 1):
                dx = (xx + 0.5 - cx) / rx
                dy = (yy + 0.5 - cy) / ry
                if dx * dx + dy * dy <= 1.0:
                    self.px(xx, yy, c)

    def rrect(self, x, y, w, h, r, c):
        """Filled rectangle with corners rounded by radius r."""
        for yy in range(y, y + h):
            for xx in range(x, x + w):
                px, py = xx + 0.5, yy + 0.5
                cx = min(max(px, x + r), x + w - r)
                cy = min(max(py, y + r), y + h - r)
                if (px - cx) ** 2 + (py - cy) ** 2 <= r * r + 0.01:
                    self.px(xx, yy, c)

    def orrect(self, x, y, w, h, r, fill, outline):
        """Rounded rectangle with a 1 px outline."""
        self.rrect(x, y, w, h, r, outline)
        self.rrect(x + 1, y + 1, w - 2, h - 2, max(r - 1, 0), fill)

    def oellipse(self, cx, cy, rx, ry, fill, outline):
        self.ellipse(cx, cy, rx + 1, ry + 1, outline)
        self.ellipse(cx, cy, rx, ry, fill)

    def line(self, x0, y0, x1, y1, c):
        n = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(n + 1):
            self.px(round(x0 + (x1 - x0) * i / n), round(y0 + (y1 - y0) * i / n), c)

    def flipped_v(self) -> "Canvas":
        out = Canvas(self.w, self.h)
        stride = self.w * 4
        for y in range(self.h):
            out.buf[y * stride:(y + 1) * stride] = self.buf[(self.h - 1 - y) * stride:(self.h - y) * stride]
        return out

    def flipped_h(self) -> "Canvas":
        out = Canvas(self.w, self.h)
        for y in range(self.h):
            for x in range(self.w):
                out.set(x, y, self.get(self.w - 1 - x, y))
        return out

    def blit(self, src: "Canvas", ox, oy):
        for y in range(src.h):
            for x in range(src.w):
                c = src.get(x, y)
                if c[3]:
                    self.px(ox + x, oy + y, c)


SHADOW = (0, 0, 0, 55)
INK = (38, 40, 52)

# --------------------------------------------------------------------------
# Tiles
# --------------------------------------------------------------------------

TILES: list[tuple[str, bool]] = []  # (name, collides), index = tile id
DRAW: dict[str, callable] = {}


def tile(name, collides):
    def register(fn):
        TILES.append((name, collides))
        DRAW[name] = fn
        return fn
    return register


def T(name) -> int:
    """Tile id by name."""
    for i, (n, _) in enumerate(TILES):
        if n == name:
            return i
    raise KeyError(name)


def G(name) -> int:
    """GID (firstgid 1) by name."""
    return T(name) + 1


# ---- floors --------------------------------------------------------------


@tile("wood floor", False)
def _(c):
    rng = random.Random(11)
    base = (201, 160, 114)
    seams = [7, 23, 15, 30]
    tints = [[rng.randint(-8, 8) for _ in range(2)] for _ in range(4)]
    for y in range(32):
        row, ry = divmod(y, 8)
        for x in range(32):
            seg = 0 if x < seams[row] else 1
            d = tints[row][seg] + rng.randint(-3, 3)
            d += int(3 * math.sin(x * 0.55 + row * 2.1 + ry * 0.9))
            col = add(base, d)
            if ry == 0:
                col = (150, 110, 74, 255)
            elif ry == 1:
                col = add(col, 8)
            elif ry == 7:
                col = add(col, -10)
            if x == seams[row] and ry != 0:
                col = (158, 117, 80, 255)
            c.set(x, y, col)


def carpet(c, base, seed):
    rng = random.Random(seed)
    for y in range(32):
        for x in range(32):
            d = rng.randint(-5, 5)
            if (x * 3 + y * 5) % 7 == 0:
                d -= 7
            col = add(base, d)
            if x == 0 or y == 0:
                col = add(base, -14)
            elif x == 31 or y == 31:
                col = add(base, -6)
            c.set(x, y, col)


@tile("carpet blue (meeting rooms)", False)
def _(c):
    carpet(c, (104, 132, 184), 21)


@tile("carpet green (focus area)", False)
def _(c):
    carpet(c, (124, 164, 128), 22)


@tile("kitchen tiles", False)
def _(c):
    rng = random.Random(31)
    a, b = (238, 230, 214), (214, 204, 188)
    for y in range(32):
        for x in range(32):
            col = a if ((x // 16) + (y // 16)) % 2 == 0 else b
            col = add(col, rng.randint(-2, 2))
            if x % 16 == 0 or y % 16 == 0:
                col = (176, 168, 156, 255)
            elif x % 16 == 1 or y % 16 == 1:
                col = add(col, 8)
            c.set(x, y, col)


@tile("lobby stone", False)
def _(c):
    rng = random.Random(41)
    base = (212, 208, 200)
    for y in range(32):
        for x in range(32):
            col = add(base, rng.randint(-3, 3))
            if rng.random() < 0.035:
                col = add(col, -22)
            if x == 0 or y == 0:
                col = (176, 171, 162, 255)
            elif x == 1 or y == 1:
                col = add(col, 10)
            elif x == 31 or y == 31:
                col = add(col, -8)
            c.set(x, y, col)


@tile("doorway floor", False)
def _(c):
    rng = random.Random(51)
    base = (178, 170, 158)
    for y in range(32):
        for x in range(32):
            col = add(base, rng.randint(-3, 3))
            if (x + y) % 6 == 0:
                col = add(col, 6)
            c.set(x, y, col)
    c.frame(0, 0, 32, 32, (150, 142, 130, 255))


@tile("entrance mat", False)
def _(c):
    c.rect(0, 0, 32, 32, (72, 74, 84))
    for y in range(3, 29):
        if y % 3 == 0:
            c.rect(3, y, 26, 1, (58, 60, 70))
    c.frame(0, 0, 32, 32, (96, 98, 110), 3)
    c.frame(0, 0, 32, 32, (52, 54, 62), 1)


@tile("spawn marker", False)
def _(c):
    c.ellipse(16, 16, 13, 13, (60, 200, 120, 70))
    c.ellipse(16, 16, 13, 13, (40, 170, 100, 200))
    c.ellipse(16, 16, 10, 10, (120, 230, 160, 110))
    # a little person
    c.ellipse(16, 11, 3.2, 3.2, (255, 255, 255, 235))
    c.rrect(11, 15, 10, 9, 3, (255, 255, 255, 235))


# ---- walls ---------------------------------------------------------------

WALL_TOP = (92, 96, 120)


def wall_top(c, mask):
    """mask bits: 1 north, 2 east, 4 south, 8 west connect to more wall."""
    rng = random.Random(60 + mask)
    for y in range(32):
        for x in range(32):
            c.set(x, y, add(WALL_TOP, rng.randint(-2, 2)))
    # the cap's edges where the wall ends
    if not mask & 1:
        c.rect(0, 0, 32, 3, (128, 133, 160))
        c.rect(0, 0, 32, 1, (48, 50, 64))
    if not mask & 8:
        c.rect(0, 0, 3, 32, (128, 133, 160))
        c.rect(0, 0, 1, 32, (48, 50, 64))
    if not mask & 4:
        c.rect(0, 29, 32, 3, (70, 73, 94))
        c.rect(0, 31, 32, 1, (40, 42, 54))
    if not mask & 2:
        c.rect(29, 0, 3, 32, (70, 73, 94))
        c.rect(31, 0, 1, 32, (40, 42, 54))
    # a faint centre line along connected directions, like a cap joint
    if mask & 1 and mask & 4 and not (mask & 2 or mask & 8):
        c.rect(15, 0, 2, 32, add(WALL_TOP, 6))
    if mask & 2 and mask & 8 and not (mask & 1 or mask & 4):
        c.rect(0, 15, 32, 2, add(WALL_TOP, 6))


for _mask in range(16):
    tile("wall top, joins " + ("".join(d for b, d in ((1, "N"), (2, "E"), (4, "S"), (8, "W")) if _mask & b) or "none"), True)(
        (lambda m: lambda c: wall_top(c, m))(_mask))


def wall_face(c):
    rng = random.Random(77)
    base = (230, 220, 204)
    for y in range(32):
        for x in range(32):
            col = add(base, rng.randint(-2, 2) - (6 - y) * 4 if y < 6 else rng.randint(-2, 2))
            c.set(x, y, col)
    c.rect(0, 0, 32, 1, (70, 66, 64))
    c.rect(0, 26, 32, 6, (150, 124, 100))
    c.rect(0, 26, 32, 1, (178, 152, 126))
    c.rect(0, 31, 32, 1, (110, 88, 70))


@tile("wall face", True)
def _(c):
    wall_face(c)


@tile("wall face with window", True)
def _(c):
    wall_face(c)
    c.rect(4, 4, 24, 20, (140, 140, 146))
    c.rect(5, 5, 22, 18, (246, 246, 246))
    for y in range(7, 21):
        t = (y - 7) / 13
        c.rect(7, y, 18, 1, mix((178, 220, 244), (118, 176, 222), t))
    for k in range(7):
        c.px(9 + k, 16 - k, (255, 255, 255, 150))
        c.px(10 + k, 16 - k, (255, 255, 255, 90))
        c.px(18 + k // 2, 12 - k // 2 * 1, (255, 255, 255, 70))
    c.rect(15, 5, 2, 18, (246, 246, 246))
    c.rect(3, 23, 26, 2, (252, 252, 252))
    c.rect(3, 25, 26, 1, (170, 160, 150))


def whiteboard(c, part):
    x0, x1 = (3, 32) if part == 0 else (0, 29)
    c.rect(x0, 4, x1 - x0, 20, (122, 126, 134))
    c.rect(x0 + (1 if part == 0 else 0), 5, x1 - x0 - 1, 18, (196, 200, 206))
    c.rect(x0 + (2 if part == 0 else 0), 6, x1 - x0 - 2, 16, (252, 252, 252))
    if part == 0:
        blue = (40, 80, 170)
        for i, w in enumerate((16, 11, 14, 8)):
            c.rect(7, 8 + i * 3, w, 1, blue)
        c.frame(25, 8, 6, 6, (200, 60, 60))
        c.line(25, 18, 31, 16, (40, 140, 80))
    else:
        for i, (h, col) in enumerate(((6, (40, 140, 80)), (10, (40, 80, 170)), (4, (200, 60, 60)), (8, (230, 160, 40)))):
            c.rect(3 + i * 5, 20 - h, 3, h, col)
        c.rect(2, 20, 22, 1, (60, 60, 60))
    # marker tray
    c.rect(x0, 24, x1 - x0, 2, (150, 154, 160))
    if part == 1:
        c.rect(6, 23, 4, 1, (40, 80, 170))
        c.rect(12, 23, 4, 1, (200, 60, 60))


@tile("whiteboard left (wall-mounted)", True)
def _(c):
    whiteboard(c, 0)


@tile("whiteboard right (wall-mounted)", True)
def _(c):
    whiteboard(c, 1)


@tile("TV screen (wall-mounted)", True)
def _(c):
    c.rect(3, 6, 27, 17, (0, 0, 0, 40))
    c.orrect(2, 4, 28, 18, 2, (28, 30, 36), (14, 14, 18))
    for y in range(6, 20):
        c.rect(4, y, 24, 1, mix((52, 92, 150), (34, 60, 110), (y - 6) / 13))
    c.rect(6, 8, 14, 2, (240, 240, 250))
    c.rect(6, 12, 8, 5, (110, 200, 160))
    c.rect(16, 12, 9, 1, (200, 210, 230))
    c.rect(16, 14, 7, 1, (200, 210, 230))
    c.rect(16, 16, 8, 1, (200, 210, 230))
    c.px(26, 20, (90, 220, 120))


# ---- furniture -----------------------------------------------------------

BOOK_COLOURS = [(178, 60, 56), (56, 104, 168), (70, 140, 90), (222, 180, 70),
                (130, 80, 150), (230, 230, 220), (60, 60, 70), (210, 120, 60)]


@tile("bookshelf", True)
def _(c):
    rng = random.Random(91)
    c.rect(2, 29, 29, 3, SHADOW)
    c.rect(1, 0, 30, 30, (72, 48, 32))
    c.rect(2, 1, 28, 28, (128, 88, 58))
    for top in (2, 11, 20):
        c.rect(3, top, 26, 7, (86, 58, 38))
        x = 3
        while x < 28:
            w = rng.choice((2, 2, 3, 3, 4))
            if x + w > 29:
                break
            h = rng.randint(5, 7)
            col = rng.choice(BOOK_COLOURS)
            c.rect(x, top + 7 - h, w, h, col)
            c.rect(x, top + 7 - h, 1, h, add(col, 25))
            if w > 2:
                c.rect(x + 1, top + 8 - h, w - 2, 1, add(col, -40))
            x += w + (1 if rng.random() < 0.25 else 0)
        c.rect(2, top + 7, 28, 2, (150, 106, 72))


def leaves(c, blobs, dark=(38, 96, 52), mid=(70, 150, 80), light=(128, 196, 112)):
    for (x, y, r) in blobs:
        c.ellipse(x, y, r + 1, r + 1, dark)
    for (x, y, r) in blobs:
        c.ellipse(x, y, r, r, mid)
    for (x, y, r) in blobs:
        c.ellipse(x - r * 0.35, y - r * 0.35, r * 0.45, r * 0.45, light)


def pot(c, x0, y0, w, h):
    c.ellipse(x0 + w / 2 + 1, y0 + h, w / 2 + 2, 2.5, SHADOW)
    for i in range(h):
        inset = i * 2 // h
        c.rect(x0 + inset, y0 + i, w - 2 * inset, 1, (196, 108, 70) if i > 1 else (162, 86, 56))
    c.rect(x0 + 1, y0 + 2, 2, h - 3, (220, 140, 100))


@tile("plant", True)
def _(c):
    pot(c, 10, 20, 12, 9)
    leaves(c, [(16, 12, 6), (10, 15, 4.5), (22, 15, 4.5), (12, 8, 4), (20, 8, 4), (16, 5, 3.5)])


@tile("tree (big plant)", True)
def _(c):
    pot(c, 9, 22, 14, 8)
    leaves(c, [(16, 13, 9), (7, 12, 5.5), (25, 12, 5.5), (10, 5, 5), (22, 5, 5), (16, 20, 5)],
           dark=(30, 84, 46), mid=(58, 136, 70), light=(112, 184, 100))


def desk_surface(c, y0, y1, edge_top):
    wood, edge = (232, 214, 178), (176, 148, 106)
    rng = random.Random(101)
    for y in range(y0, y1):
        for x in range(32):
            c.set(x, y, add(wood, rng.randint(-2, 2)))
    c.rect(0, y0, 1, y1 - y0, add(wood, -24))
    if edge_top:
        c.rect(0, y0, 32, 2, edge)
    else:
        c.rect(0, y1 - 2, 32, 2, edge)


def keyboard(c, x, y):
    c.rect(x, y, 13, 4, (70, 74, 84))
    c.rect(x + 1, y + 1, 11, 2, (210, 212, 218))
    for k in range(x + 2, x + 12, 2):
        c.px(k, y + 1, (160, 162, 170))


@tile("desk, chair on its north side", True)
def _(c):
    # the row of a desk pair nearer the north aisle; the screen stands at the
    # south edge (its back is what we see), the privacy panel at the seam.
    desk_surface(c, 2, 30, edge_top=True)
    c.rect(0, 29, 32, 3, (112, 130, 126))
    c.rect(0, 29, 32, 1, (140, 160, 156))
    c.rect(8, 21, 16, 6, (44, 46, 56))
    c.rect(9, 22, 14, 1, (70, 72, 84))
    c.rect(14, 27, 4, 2, (60, 62, 72))
    keyboard(c, 10, 8)
    c.ellipse(26, 10, 1.8, 2.4, (70, 74, 84))
    c.rect(3, 12, 6, 8, (250, 250, 246))
    c.rect(4, 14, 4, 1, (150, 150, 160))
    c.rect(4, 16, 3, 1, (150, 150, 160))


@tile("desk, chair on its south side", True)
def _(c):
    desk_surface(c, 0, 30, edge_top=False)
    c.rect(0, 0, 32, 3, (112, 130, 126))
    c.rect(0, 2, 32, 1, (90, 106, 102))
    c.rect(7, 4, 18, 11, (34, 36, 44))
    for y in range(5, 14):
        c.rect(8, y, 16, 1, mix((90, 150, 200), (60, 110, 170), (y - 5) / 8))
    c.rect(10, 7, 8, 1, (230, 240, 250))
    c.rect(10, 9, 11, 1, (180, 210, 235))
    c.rect(10, 11, 6, 1, (180, 210, 235))
    c.rect(14, 15, 4, 2, (60, 62, 72))
    keyboard(c, 10, 21)
    c.ellipse(26, 23, 1.8, 2.4, (70, 74, 84))
    c.ellipse(4.5, 20, 2.5, 2.5, (200, 70, 60))
    c.ellipse(4.5, 20, 1.4, 1.4, (90, 50, 30))


CHAIR_SEAT, CHAIR_BACK, CHAIR_LINE = (72, 78, 104), (52, 56, 78), (26, 28, 40)


def chair(c, facing):
    """Office chair seen from above; the sitter faces `facing`."""
    c.ellipse(17, 18, 10, 10, SHADOW)
    c.orrect(8, 9, 16, 15, 5, CHAIR_SEAT, CHAIR_LINE)
    c.rrect(11, 12, 10, 6, 3, add(CHAIR_SEAT, 14))
    c.orrect(6, 11, 3, 10, 1, CHAIR_BACK, CHAIR_LINE)
    c.orrect(23, 11, 3, 10, 1, CHAIR_BACK, CHAIR_LINE)
    c.orrect(7, 3, 18, 7, 3, CHAIR_BACK, CHAIR_LINE)
    c.rect(10, 4, 12, 1, add(CHAIR_BACK, 22))


def chair_facing(facing):
    c = Canvas(32, 32)
    chair(c, "S")  # drawn facing south: back at the north
    if facing == "S":
        return c
    if facing == "N":
        return c.flipped_v()
    # east / west: transpose
    t = Canvas(32, 32)
    for y in range(32):
        for x in range(32):
            t.set(y, x, c.get(x, y))
    return t if facing == "E" else t.flipped_h()


for _f, _word in (("N", "north"), ("S", "south"), ("E", "east"), ("W", "west")):
    tile(f"chair facing {_word}", True)((lambda f: lambda c: c.blit(chair_facing(f), 0, 0))(_f))


def counter(c):
    rng = random.Random(121)
    for y in range(0, 13):
        for x in range(32):
            c.set(x, y, add((236, 236, 232), rng.randint(-3, 3) - (8 if rng.random() < 0.04 else 0)))
    c.rect(0, 12, 32, 2, (188, 188, 184))
    c.rect(0, 14, 32, 15, (206, 194, 176))
    c.rect(0, 14, 32, 1, (226, 216, 200))
    c.rect(0, 14, 1, 15, (170, 158, 140))
    c.rect(16, 14, 1, 15, (170, 158, 140))
    c.rect(12, 18, 2, 6, (120, 120, 126))
    c.rect(19, 18, 2, 6, (120, 120, 126))
    c.rect(0, 29, 32, 3, (90, 84, 78))


@tile("kitchen counter", True)
def _(c):
    counter(c)


@tile("kitchen counter with sink", True)
def _(c):
    counter(c)
    c.orrect(6, 2, 20, 10, 3, (168, 176, 184), (120, 126, 134))
    c.rrect(8, 4, 16, 6, 2, (140, 148, 158))
    c.ellipse(16, 7, 1.2, 1.2, (90, 96, 104))
    c.rect(15, 0, 2, 4, (150, 156, 164))
    c.rect(13, 0, 6, 1, (120, 126, 134))


@tile("kitchen counter with coffee machine", True)
def _(c):
    counter(c)
    c.rect(8, 12, 18, 3, SHADOW)
    c.orrect(8, 0, 16, 15, 2, (52, 52, 58), (24, 24, 28))
    c.rect(10, 2, 12, 3, (150, 40, 40))
    c.px(12, 3, (255, 220, 120))
    c.px(15, 3, (120, 255, 160))
    c.rect(14, 6, 4, 2, (140, 144, 150))
    c.rect(12, 9, 8, 5, (28, 28, 32))
    c.rect(14, 10, 4, 3, (250, 250, 250))
    c.rect(15, 10, 2, 1, (120, 80, 50))


@tile("kitchen counter with microwave", True)
def _(c):
    counter(c)
    c.rect(5, 11, 23, 3, SHADOW)
    c.orrect(4, 1, 23, 12, 2, (226, 228, 232), (120, 122, 130))
    c.rect(6, 3, 13, 8, (40, 44, 52))
    c.rect(7, 4, 4, 2, (80, 90, 104))
    c.rect(21, 3, 4, 8, (196, 198, 204))
    c.px(22, 4, (90, 220, 120))
    c.px(23, 4, (90, 220, 120))


@tile("fridge", True)
def _(c):
    c.rect(3, 29, 28, 3, SHADOW)
    c.orrect(2, 0, 28, 31, 2, (236, 240, 244), (138, 144, 152))
    c.rect(24, 1, 5, 29, (214, 220, 226))
    c.rect(3, 10, 26, 1, (150, 156, 164))
    c.rect(22, 3, 2, 5, (160, 166, 174))
    c.rect(22, 13, 2, 10, (160, 166, 174))
    c.rect(6, 14, 4, 3, (250, 200, 80))
    c.rect(11, 15, 4, 4, (120, 190, 230))


@tile("water cooler", True)
def _(c):
    c.ellipse(16, 29, 8, 2.5, SHADOW)
    c.orrect(9, 13, 14, 17, 2, (232, 234, 238), (140, 144, 152))
    c.rect(11, 17, 3, 2, (60, 120, 220))
    c.rect(18, 17, 3, 2, (220, 60, 60))
    c.rect(12, 22, 8, 1, (170, 174, 182))
    c.orrect(10, 1, 12, 13, 4, (150, 205, 240, 235), (90, 150, 200))
    c.rect(12, 3, 2, 8, (220, 240, 255, 200))


@tile("printer", True)
def _(c):
    c.rect(4, 27, 26, 4, SHADOW)
    c.orrect(3, 8, 26, 21, 2, (214, 216, 222), (120, 124, 132))
    c.rect(4, 9, 24, 5, (236, 238, 242))
    c.rect(7, 4, 14, 8, (252, 252, 252))
    c.rect(8, 6, 10, 1, (170, 170, 180))
    c.rect(8, 8, 7, 1, (170, 170, 180))
    c.rect(6, 18, 18, 2, (60, 62, 70))
    c.rect(22, 11, 4, 2, (70, 74, 84))
    c.px(26, 12, (90, 220, 120))


@tile("bin", True)
def _(c):
    c.ellipse(17, 27, 7, 2.5, SHADOW)
    c.orrect(10, 14, 12, 14, 2, (120, 126, 136), (70, 74, 84))
    c.rect(12, 16, 1, 10, (150, 156, 166))
    c.oellipse(16, 14, 6, 2.5, (50, 52, 60), (70, 74, 84))
    c.rect(13, 11, 4, 3, (250, 250, 246))


@tile("cafe table", True)
def _(c):
    c.ellipse(17.5, 18, 12, 11, SHADOW)
    c.oellipse(16, 16, 11, 11, (246, 242, 234), (150, 140, 128))
    c.ellipse(14, 14, 6, 6, (255, 255, 252))
    c.oellipse(12, 17, 2.4, 2.4, (255, 255, 255), (150, 150, 150))
    c.ellipse(12, 17, 1.3, 1.3, (110, 70, 40))
    c.oellipse(20, 13, 2.4, 2.4, (255, 255, 255), (150, 150, 150))


@tile("coffee table", True)
def _(c):
    c.rect(5, 8, 26, 20, SHADOW)
    c.orrect(3, 6, 26, 20, 3, (164, 118, 80), (96, 64, 42))
    c.rect(5, 8, 22, 2, (190, 146, 104))
    c.rect(7, 12, 9, 10, (240, 236, 226))
    c.rect(8, 14, 6, 1, (190, 80, 70))
    c.rect(8, 16, 5, 1, (150, 150, 160))
    c.oellipse(22, 17, 2.5, 2.5, (255, 255, 255), (150, 150, 150))


SOFA, SOFA_LIGHT, SOFA_DARK, SOFA_LINE = (64, 142, 152), (98, 176, 184), (44, 104, 114), (26, 62, 70)


def sofa(c, part):
    """Sofa facing south (backrest north); part: 'L', 'M', 'R' or 'A' (armchair)."""
    left = part in "LA"
    right = part in "RA"
    x0 = 2 if left else 0
    x1 = 30 if right else 32
    c.rect(x0 + 1, 6, x1 - x0, 24, SHADOW)
    c.rect(x0, 3, x1 - x0, 25, SOFA_LINE)
    c.rect(x0 + (1 if left else 0), 4, x1 - x0 - (1 if left else 0) - (1 if right else 0), 8, SOFA_DARK)
    c.rect(x0 + (1 if left else 0), 5, x1 - x0 - (1 if left else 0) - (1 if right else 0), 1, add(SOFA_DARK, 18))
    sx0 = x0 + (6 if left else 0)
    sx1 = x1 - (6 if right else 0)
    c.rect(sx0, 12, sx1 - sx0, 15, SOFA)
    c.rect(sx0, 12, sx1 - sx0, 2, SOFA_LIGHT)
    # cushion seams
    if not left:
        c.rect(0, 12, 1, 15, add(SOFA, -20))
    if part == "M":
        c.rect(16, 12, 1, 15, add(SOFA, -20))
    if left:
        c.rect(x0 + 1, 4, 5, 23, SOFA_DARK)
        c.rect(x0 + 1, 4, 5, 1, add(SOFA_DARK, 20))
        c.rect(x0 + 6, 12, 1, 15, SOFA_LINE)
    if right:
        c.rect(x1 - 6, 4, 5, 23, SOFA_DARK)
        c.rect(x1 - 6, 4, 5, 1, add(SOFA_DARK, 20))
        c.rect(x1 - 7, 12, 1, 15, SOFA_LINE)


def sofa_canvas(part, facing):
    c = Canvas(32, 32)
    sofa(c, part)
    return c if facing == "S" else c.flipped_v()


for _f, _word in (("S", "south"), ("N", "north")):
    for _p, _pw in (("L", "left"), ("M", "middle"), ("R", "right")):
        tile(f"sofa facing {_word}, {_pw}", True)((lambda p, f: lambda c: c.blit(sofa_canvas(p, f), 0, 0))(_p, _f))


@tile("reception counter", True)
def _(c):
    c.rect(0, 4, 32, 4, (240, 236, 228))
    c.rect(0, 8, 32, 2, (200, 194, 184))
    c.rect(0, 10, 32, 19, (142, 98, 64))
    c.rect(0, 10, 32, 1, (170, 124, 86))
    for x in (0, 16):
        c.rect(x, 10, 1, 19, (112, 76, 50))
    c.rect(0, 29, 32, 3, (70, 50, 36))
    c.rect(0, 2, 32, 2, (96, 64, 42))
    c.rect(0, 4, 32, 1, (180, 170, 156))


@tile("armchair", True)
def _(c):
    c.blit(sofa_canvas("A", "S"), 0, 0)


def table_piece(c, col, row):
    """One of the 9 pieces of a meeting table of any size (col, row in 0..2)."""
    top, edge, light = (170, 118, 78), (104, 68, 44), (196, 146, 102)
    x0 = 3 if col == 0 else 0
    x1 = 29 if col == 2 else 32
    y0 = 3 if row == 0 else 0
    y1 = 27 if row == 2 else 32
    r = 5

    def inside(x, y, shrink):
        a0 = x0 + (shrink if col == 0 else 0)
        a1 = x1 - (shrink if col == 2 else 0)
        b0 = y0 + (shrink if row == 0 else 0)
        b1 = y1 - (shrink if row == 2 else 0)
        px, py = x + 0.5, y + 0.5
        if not (a0 <= px <= a1 and b0 <= py <= b1):
            return False
        rr = r - shrink
        cx = px
        cy = py
        if col == 0 and px < a0 + rr:
            cx = a0 + rr
        if col == 2 and px > a1 - rr:
            cx = a1 - rr
        if row == 0 and py < b0 + rr:
            cy = b0 + rr
        if row == 2 and py > b1 - rr:
            cy = b1 - rr
        if (cx != px) and (cy != py):
            return (px - cx) ** 2 + (py - cy) ** 2 <= rr * rr
        return True

    # shadow to the south-east
    for y in range(32):
        for x in range(32):
            if inside(x - 1, y - 3, 0) and not inside(x, y, 0):
                c.px(x, y, SHADOW)
    for y in range(32):
        for x in range(32):
            if inside(x, y, 0):
                gx = x + col * 32
                grain = int(4 * math.sin(gx * 0.07 + (y + row * 32) * 0.9) + 2 * math.sin(gx * 0.31 + y * 0.2))
                colr = add(top, grain)
                if not inside(x, y, 2):
                    colr = edge if not inside(x, y, 1) else add(edge, 24)
                elif row == 0 and y < y0 + 4:
                    colr = add(colr, 10)
                c.set(x, y, colr)
    if row == 0:
        for x in range(32):
            if inside(x, y0 + 2, 2):
                c.px(x, y0 + 2, light)


for _row in range(3):
    for _col in range(3):
        _nm = ("north" if _row == 0 else "" if _row == 1 else "south") + ("-" if _row != 1 and _col != 1 else "") + \
              ("west" if _col == 0 else "" if _col == 1 else "east")
        tile(f"meeting table, {_nm or 'centre'}", True)((lambda cc, rr: lambda c: table_piece(c, cc, rr))(_col, _row))


@tile("small plant", True)
def _(c):
    pot(c, 12, 22, 8, 7)
    leaves(c, [(16, 17, 4.5), (12, 15, 3), (20, 15, 3), (16, 12, 3)])


@tile("floor lamp", True)
def _(c):
    c.ellipse(17, 18, 10, 10, (255, 236, 170, 50))
    c.ellipse(16, 16, 12, 12, (255, 236, 170, 40))
    c.oellipse(16, 16, 8, 8, (250, 234, 196), (176, 150, 110))
    c.ellipse(16, 16, 4, 4, (255, 250, 226))
    c.ellipse(16, 16, 1.5, 1.5, (90, 80, 70))


@tile("beanbag", True)
def _(c):
    c.ellipse(17, 19, 13, 11, SHADOW)
    c.oellipse(16, 17, 12, 11, (222, 158, 64), (140, 92, 30))
    c.ellipse(17, 19, 7, 6, (198, 136, 48))
    c.ellipse(11, 11, 4, 3, (244, 196, 110))


@tile("notice board (wall-mounted)", True)
def _(c):
    c.rect(4, 5, 25, 18, (0, 0, 0, 40))
    c.rect(3, 4, 26, 18, (112, 80, 50))
    c.rect(4, 5, 24, 16, (200, 158, 106))
    for (x, y, col) in ((6, 7, (250, 236, 120)), (13, 6, (250, 250, 250)), (21, 8, (140, 210, 240)),
                        (8, 14, (250, 170, 190)), (17, 14, (170, 230, 150))):
        c.rect(x, y, 6, 6, col)
        c.px(x + 3, y, (200, 40, 40))
    c.rect(14, 8, 4, 1, (150, 150, 160))
    c.rect(14, 10, 3, 1, (150, 150, 160))


@tile("clock (wall-mounted)", True)
def _(c):
    c.ellipse(17, 14, 8, 8, (0, 0, 0, 40))
    c.oellipse(16, 13, 8, 8, (252, 252, 250), (50, 52, 60))
    for k in range(12):
        a = k * math.pi / 6
        c.px(round(16 + 6.3 * math.sin(a) - 0.5), round(13 - 6.3 * math.cos(a) - 0.5), (90, 92, 100))
    c.line(16, 13, 16, 8, (30, 30, 36))
    c.line(16, 13, 19, 14, (30, 30, 36))
    c.px(15, 12, (200, 50, 50))


@tile("picture (wall-mounted)", True)
def _(c):
    c.rect(6, 6, 22, 16, (0, 0, 0, 40))
    c.rect(5, 4, 22, 17, (60, 48, 40))
    for y in range(6, 19):
        c.rect(7, y, 18, 1, mix((150, 200, 236), (230, 220, 200), (y - 6) / 12))
    c.ellipse(20, 10, 2.5, 2.5, (250, 210, 90))
    for x in range(7, 25):
        h1 = 14 + int(2 * math.sin(x * 0.45))
        h2 = 16 + int(1.5 * math.sin(x * 0.7 + 1))
        c.rect(x, h1, 1, 19 - h1, (110, 160, 110))
        c.rect(x, h2, 1, 19 - h2, (80, 130, 84))


@tile("focus desk (single, chair on its south side)", True)
def _(c):
    c.rect(3, 6, 28, 22, SHADOW)
    c.orrect(1, 3, 30, 24, 2, (232, 214, 178), (150, 122, 84))
    c.rect(2, 24, 28, 2, (196, 172, 130))
    c.rect(9, 5, 14, 9, (34, 36, 44))
    for y in range(6, 13):
        c.rect(10, y, 12, 1, mix((90, 150, 200), (60, 110, 170), (y - 6) / 6))
    c.rect(15, 14, 2, 2, (60, 62, 72))
    keyboard(c, 10, 18)
    # desk lamp
    c.oellipse(5.5, 8, 2.5, 2.5, (250, 220, 120), (120, 100, 60))
    c.oellipse(26, 20, 2.2, 2.2, (255, 255, 255), (150, 150, 150))
    c.ellipse(26, 20, 1.2, 1.2, (120, 190, 110))


def build_tileset() -> tuple[int, int, bytearray]:
    rows = math.ceil(len(TILES) / COLUMNS)
    sheet = Canvas(COLUMNS * TILE, rows * TILE)
    for i, (name, _) in enumerate(TILES):
        c = Canvas(TILE, TILE)
        DRAW[name](c)
        ox, oy = (i % COLUMNS) * TILE, (i // COLUMNS) * TILE
        for y in range(TILE):
            j = ((oy + y) * sheet.w + ox) * 4
            sheet.buf[j:j + TILE * 4] = c.buf[y * TILE * 4:(y + 1) * TILE * 4]
    return sheet.w, sheet.h, sheet.buf


# --------------------------------------------------------------------------
# The office layout
# --------------------------------------------------------------------------

W, H = 64, 44


class Office:
    def __init__(self):
        self.floor = [[0] * W for _ in range(H)]
        self.wall = [[False] * W for _ in range(H)]
        self.furn = [[0] * W for _ in range(H)]
        self.start = [[0] * W for _ in range(H)]
        self.mounted: list[tuple[int, int, int]] = []  # (x, y, gid) on wall faces
        self.zones: list[dict] = []

    # -- building blocks --
    def fill_floor(self, x0, y0, x1, y1, name):
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                self.floor[y][x] = G(name)

    def walls(self, x0, y0, x1, y1):
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                self.wall[y][x] = True

    def door(self, x0, y0, x1, y1, name="doorway floor"):
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                self.wall[y][x] = False
                self.floor[y][x] = G(name)

    def put(self, x, y, name):
        assert not self.wall[y][x], f"furniture {name} on a wall at {x},{y}"
        assert self.furn[y][x] == 0, f"furniture {name} on furniture at {x},{y}"
        self.furn[y][x] = G(name)

    def row(self, x0, y, names):
        for i, n in enumerate(names):
            if n:
                self.put(x0 + i, y, n)

    def mount(self, x, y, name):
        self.mounted.append((x, y, G(name)))

    def zone(self, name, x0, y0, x1, y1, cls="area", **props):
        self.zones.append({"name": name, "rect": (x0, y0, x1, y1), "class": cls, "props": props})

    # -- furniture groups --
    def desk_group(self, x0, y0, n):
        """Two facing rows of n desks with chairs: rows y0..y0+3."""
        for i in range(n):
            self.put(x0 + i, y0, "chair facing south")
            self.put(x0 + i, y0 + 1, "desk, chair on its north side")
            self.put(x0 + i, y0 + 2, "desk, chair on its south side")
            self.put(x0 + i, y0 + 3, "chair facing north")

    def meeting_table(self, x0, y0, w, h, chairs=True):
        for j in range(h):
            for i in range(w):
                col = 0 if i == 0 else 2 if i == w - 1 else 1
                row = 0 if j == 0 else 2 if j == h - 1 else 1
                nm = ("north" if row == 0 else "" if row == 1 else "south") + \
                     ("-" if row != 1 and col != 1 else "") + ("west" if col == 0 else "" if col == 1 else "east")
                self.put(x0 + i, y0 + j, f"meeting table, {nm or 'centre'}")
        if chairs:
            for i in range(w):
                self.put(x0 + i, y0 - 1, "chair facing south")
                self.put(x0 + i, y0 + h, "chair facing north")
            for j in range(h):
                self.put(x0 - 1, y0 + j, "chair facing east")
                self.put(x0 + w, y0 + j, "chair facing west")

    def sofa_row(self, x0, y, n, facing):
        for i in range(n):
            part = "left" if i == 0 else "right" if i == n - 1 else "middle"
            self.put(x0 + i, y, f"sofa facing {facing}, {part}")


def build_office() -> Office:
    o = Office()
    # Outer shell: a two-tile north wall (cap + face), one-tile other walls.
    o.fill_floor(1, 2, W - 2, H - 2, "wood floor")
    o.walls(0, 0, W - 1, 1)
    o.walls(0, 0, 0, H - 1)
    o.walls(W - 1, 0, W - 1, H - 1)
    o.walls(0, H - 1, W - 1, H - 1)

    # ---------------- north band: three meeting rooms and the kitchen ----
    o.walls(1, 12, W - 2, 13)            # the band's south wall (cap + face)
    rooms = [("Lovelace", 1), ("Hopper", 14), ("Turing", 27)]
    for x in (13, 26, 39):
        o.walls(x, 2, x, 11)
    for idx, (room, x0) in enumerate(rooms):
        x1 = x0 + 11
        o.fill_floor(x0, 2, x1, 11, "carpet blue (meeting rooms)")
        dx = x0 + (8 if idx != 2 else 2)
        o.door(dx, 12, dx + 1, 13)
        o.meeting_table(x0 + 3, 5, 6, 3)
        o.put(x0, 2, "plant")
        o.put(x1, 2, "plant")
        o.put(x0, 11, "small plant")
        o.put(x1, 11, "small plant")
        o.zone(f"meeting-{room.lower()}", x0, 2, x1, 11, meetingRoom=room)
    # wall decoration of the rooms (north wall face, y = 1)
    o.mount(6, 1, "whiteboard left (wall-mounted)")
    o.mount(7, 1, "whiteboard right (wall-mounted)")
    o.mount(19, 1, "TV screen (wall-mounted)")
    o.mount(31, 1, "whiteboard left (wall-mounted)")
    o.mount(32, 1, "whiteboard right (wall-mounted)")
    o.mount(34, 1, "TV screen (wall-mounted)")

    # Kitchen: x 40..62, y 2..11, wide opening onto the open space.
    o.fill_floor(40, 2, 62, 11, "kitchen tiles")
    o.door(40, 12, 44, 13, "kitchen tiles")
    o.row(52, 2, ["kitchen counter", "kitchen counter with microwave", "kitchen counter",
                  "kitchen counter with sink", "kitchen counter", "kitchen counter with coffee machine",
                  "kitchen counter with coffee machine", "kitchen counter", "fridge", "fridge", None])
    o.put(62, 2, "tree (big plant)")
    o.put(40, 2, "plant")
    o.put(50, 2, "water cooler")
    o.put(51, 2, "bin")
    for ty in (6, 9):
        for tx in (43, 59):
            o.put(tx - 1, ty, "chair facing east")
            o.put(tx, ty, "cafe table")
            o.put(tx + 1, ty, "chair facing west")
    o.meeting_table(48, 7, 8, 2)         # the long communal lunch table
    o.sofa_row(58, 11, 3, "north")
    o.put(62, 11, "plant")
    o.put(46, 11, "small plant")
    o.zone("kitchen", 40, 2, 62, 11, zone="kitchen")

    # ---------------- open space: x 1..45, y 14..32 ------------------
    for gy in (16, 22, 28):
        for gx in (3, 12, 21, 30, 39):
            if gy == 28 and gx == 21:
                continue  # a small lounge instead
            o.desk_group(gx, gy, 6)
    # lounge in the last row
    o.sofa_row(22, 28, 4, "south")
    o.put(22, 29, "small plant")
    o.put(23, 29, "coffee table")
    o.put(24, 29, "coffee table")
    o.put(25, 29, "small plant")
    o.sofa_row(22, 30, 4, "north")
    o.put(21, 29, "floor lamp")
    # printers and greenery along the walls
    o.put(1, 14, "plant")
    o.put(45, 14, "plant")
    o.put(1, 21, "printer")
    o.put(1, 27, "bin")
    o.put(45, 32, "plant")
    o.put(1, 32, "plant")
    for x in (10, 28, 37):
        o.put(x, 14, "small plant")
    o.zone("open-space", 1, 14, 45, 32, zone="open-space")
    # face of the north band's wall, seen from the open space
    for x, what in ((4, "picture (wall-mounted)"), (8, "clock (wall-mounted)"),
                    (16, "notice board (wall-mounted)"), (24, "picture (wall-mounted)"),
                    (33, "notice board (wall-mounted)"), (37, "picture (wall-mounted)")):
        o.mount(x, 13, what)
    for x in (2, 3, 4, 9, 10, 11, 14, 15, 16, 22, 23, 24, 35, 36, 37, 38, 41, 42, 44, 45, 46, 47, 48, 49):
        o.mount(x, 1, "wall face with window")

    # ---------------- south band: meeting room, lobby ----------------
    o.walls(1, 33, 45, 34)               # cap + face
    o.walls(15, 35, 15, H - 2)
    o.walls(46, 14, 46, H - 2)           # focus area's west wall
    # Meeting room "Dijkstra": x 1..14, y 35..42
    o.fill_floor(1, 35, 14, 42, "carpet blue (meeting rooms)")
    o.door(12, 33, 13, 34)
    o.meeting_table(4, 38, 7, 2)
    o.put(1, 35, "plant")
    o.put(1, 42, "small plant")
    o.put(14, 42, "small plant")
    o.mount(5, 34, "whiteboard left (wall-mounted)")
    o.mount(6, 34, "whiteboard right (wall-mounted)")
    o.mount(9, 34, "TV screen (wall-mounted)")
    o.zone("meeting-dijkstra", 1, 35, 14, 42, meetingRoom="Dijkstra")

    # Lobby: x 16..45, y 35..42; wide opening to the open space; entrance south.
    o.fill_floor(16, 35, 45, 42, "lobby stone")
    o.door(27, 33, 34, 34, "lobby stone")
    o.door(29, H - 1, 32, H - 1, "entrance mat")
    o.fill_floor(29, 42, 32, 42, "entrance mat")
    # reception
    o.row(19, 38, ["reception counter"] * 5)
    o.put(21, 37, "chair facing south")
    o.put(19, 36, "printer")
    o.put(23, 36, "small plant")
    # waiting lounge
    o.sofa_row(39, 36, 3, "south")
    o.row(39, 37, ["small plant", "coffee table", "small plant"])
    o.sofa_row(19, 42, 3, "north")       # a bench against the south wall
    o.sofa_row(39, 38, 3, "north")
    o.put(42, 37, "floor lamp")
    for x, y in ((16, 35), (45, 35), (16, 42), (45, 42), (27, 42), (34, 42)):
        o.put(x, y, "tree (big plant)" if y == 42 else "plant")
    o.put(36, 35, "water cooler")
    for x, what in ((18, "clock (wall-mounted)"), (22, "picture (wall-mounted)"),
                    (38, "notice board (wall-mounted)"), (42, "picture (wall-mounted)")):
        o.mount(x, 34, what)
    # spawn tiles: a block in front of the entrance
    for y in (39, 40, 41):
        for x in range(28, 34):
            if y == 41 and x in (28, 33):
                continue
            o.start[y][x] = G("spawn marker")
    o.zone("lobby", 16, 35, 45, 42, zone="lobby")
    o.zone("spawn", 26, 38, 35, 43, cls="area", start=True)

    # ---------------- silent focus area: x 47..62, y 14..42 -----------
    o.fill_floor(47, 14, 62, 42, "carpet green (focus area)")
    o.door(46, 23, 46, 24)
    o.door(46, 39, 46, 40)
    o.row(49, 14, ["bookshelf"] * 12)
    o.put(47, 14, "plant")
    o.put(62, 14, "plant")
    for y in (18, 24, 30):
        for i, x in enumerate(range(49, 62, 3)):
            o.put(x, y, "focus desk (single, chair on its south side)")
            o.put(x, y + 1, "chair facing north")
            if x + 2 <= 61:
                o.put(x + 1, y, "small plant" if i % 2 == 0 else "floor lamp")
    # reading corner
    o.row(49, 35, ["bookshelf"] * 4)
    o.row(56, 35, ["bookshelf"] * 4)
    o.put(50, 38, "beanbag")
    o.put(53, 38, "beanbag")
    o.put(57, 38, "beanbag")
    o.put(60, 38, "armchair")
    o.put(55, 40, "floor lamp")
    o.put(47, 42, "tree (big plant)")
    o.put(62, 42, "tree (big plant)")
    o.put(62, 35, "plant")
    o.zone("focus", 47, 14, 62, 42, silent=True)
    return o


def wall_layer(o: Office) -> list[list[int]]:
    """Auto-tiles the wall mask into caps and faces."""
    out = [[0] * W for _ in range(H)]

    def is_wall(x, y):
        return 0 <= x < W and 0 <= y < H and o.wall[y][x]

    for y in range(H):
        for x in range(W):
            if not o.wall[y][x]:
                continue
            below_open = y + 1 < H and not o.wall[y + 1][x] and o.floor[y + 1][x] != 0
            if below_open and is_wall(x, y - 1):
                out[y][x] = G("wall face")
            else:
                mask = (1 if is_wall(x, y - 1) else 0) | (2 if is_wall(x + 1, y) else 0) | \
                       (4 if is_wall(x, y + 1) else 0) | (8 if is_wall(x - 1, y) else 0)
                out[y][x] = G("wall top, joins none") + mask
    return out


def finish_layers(o: Office):
    walls = wall_layer(o)
    furniture = [row[:] for row in o.furn]
    face_gids = {G("wall face"), G("wall face with window")}
    for x, y, gid in o.mounted:
        if walls[y][x] not in face_gids:
            sys.exit(f"error: wall-mounted tile {gid} at {x},{y} is not on a wall face")
        if gid == G("wall face with window"):
            if furniture[y][x]:
                sys.exit(f"error: window over a mounted item at {x},{y}")
            walls[y][x] = gid
        else:
            if walls[y][x] != G("wall face"):
                sys.exit(f"error: mounted item on a window at {x},{y}")
            furniture[y][x] = gid
    for y in range(H):
        for x in range(W):
            if o.wall[y][x] and o.furn[y][x]:
                sys.exit(f"error: furniture inside a wall at {x},{y}")
    return o.floor, walls, furniture, o.start


# --------------------------------------------------------------------------
# Tiled JSON
# --------------------------------------------------------------------------


def prop(name, value):
    kind = "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else \
        "float" if isinstance(value, float) else "string"
    return {"name": name, "type": kind, "value": value}


def tileset_json(img_w, img_h, image, embedded: bool):
    ts = {
        "columns": COLUMNS,
        "image": image,
        "imageheight": img_h,
        "imagewidth": img_w,
        "margin": 0,
        "name": "office",
        "spacing": 0,
        "tilecount": (img_w // TILE) * (img_h // TILE),
        "tileheight": TILE,
        "tiles": [{"id": i, "properties": [prop("ge_collide", True)]}
                  for i, (_, collides) in enumerate(TILES) if collides],
        "tilewidth": TILE,
    }
    if embedded:
        ts = {"firstgid": 1, **ts}
        return dict(sorted(ts.items()))
    ts.update({"tiledversion": TILED_VERSION, "type": "tileset", "version": "1.10"})
    return dict(sorted(ts.items()))


def map_json(layers, o: Office, img_w, img_h):
    out_layers = []
    lid = 0
    for name, grid, visible in layers:
        lid += 1
        out_layers.append({
            "data": [g for row in grid for g in row],
            "height": H, "id": lid, "name": name, "opacity": 1, "type": "tilelayer",
            "visible": visible, "width": W, "x": 0, "y": 0,
        })
    objects = []
    for oid, z in enumerate(o.zones, start=1):
        x0, y0, x1, y1 = z["rect"]
        objects.append({
            "class": z["class"],
            "height": (y1 - y0 + 1) * TILE,
            "id": oid,
            "name": z["name"],
            "properties": [prop(k, v) for k, v in sorted(z["props"].items())],
            "rotation": 0,
            "type": z["class"],
            "visible": True,
            "width": (x1 - x0 + 1) * TILE,
            "x": x0 * TILE,
            "y": y0 * TILE,
        })
    lid += 1
    out_layers.append({
        "draworder": "topdown", "id": lid, "name": "zones", "objects": objects, "opacity": 1,
        "type": "objectgroup", "visible": True, "x": 0, "y": 0,
    })
    return {
        "compressionlevel": -1,
        "height": H,
        "infinite": False,
        "layers": out_layers,
        "nextlayerid": lid + 1,
        "nextobjectid": len(objects) + 1,
        "orientation": "orthogonal",
        "renderorder": "right-down",
        "tiledversion": TILED_VERSION,
        "tileheight": TILE,
        "tilesets": [tileset_json(img_w, img_h, "tiles/office.png", embedded=True)],
        "tilewidth": TILE,
        "type": "map",
        "version": "1.10",
        "width": W,
    }


def dump_tiled(doc) -> str:
    """JSON with each layer's data written one map row per line."""
    datas = []

    def swap(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "data" and isinstance(v, list):
                    datas.append(v)
                    node[k] = f"@@DATA{len(datas) - 1}@@"
                else:
                    swap(v)
        elif isinstance(node, list):
            for v in node:
                swap(v)

    doc = json.loads(json.dumps(doc))
    swap(doc)
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    for i, data in enumerate(datas):
        rows = [", ".join(str(g) for g in data[r * W:(r + 1) * W]) for r in range(len(data) // W)]
        text = text.replace(f'"@@DATA{i}@@"', "[" + ",\n   ".join(rows) + "]")
    return text + "\n"


# --------------------------------------------------------------------------
# Validation (reads back the written file)
# --------------------------------------------------------------------------


def validate(path: Path) -> dict:
    doc = json.loads(path.read_text())
    errors = []

    def need(cond, msg):
        if not cond:
            errors.append(msg)

    for key, val in (("type", "map"), ("version", "1.10"), ("orientation", "orthogonal"),
                     ("renderorder", "right-down"), ("infinite", False), ("tilewidth", 32),
                     ("tileheight", 32), ("compressionlevel", -1)):
        need(doc.get(key) == val, f"map {key} is {doc.get(key)!r}, not {val!r}")
    w, h = doc["width"], doc["height"]
    need(w >= 64 and h >= 44, f"map is {w}x{h}, smaller than 64x44")
    need(len(doc["tilesets"]) == 1, "not exactly one tileset")
    ts = doc["tilesets"][0]
    need(ts["firstgid"] == 1 and ts["name"] == "office", "tileset firstgid/name")
    need(ts["tilecount"] == (ts["imagewidth"] // ts["tilewidth"]) * (ts["imageheight"] // ts["tileheight"]),
         "tilecount does not match the image")
    need(ts["columns"] == ts["imagewidth"] // ts["tilewidth"], "columns do not match the image")
    img = (path.parent / ts["image"]).resolve()
    need(img.is_file(), f"tileset image {img} missing")
    if img.is_file():
        iw, ih = struct.unpack(">II", img.read_bytes()[16:24])
        need((iw, ih) == (ts["imagewidth"], ts["imageheight"]), "image size differs from the tileset's")
    collide = {t["id"] + 1 for t in ts.get("tiles", [])
               if any(p["name"] == "ge_collide" and p["value"] is True for p in t.get("properties", []))}
    tilecount = ts["tilecount"]
    tile_layers = {}
    ids = set()
    for layer in doc["layers"]:
        need(layer["id"] not in ids, f"duplicate layer id {layer['id']}")
        ids.add(layer["id"])
        if layer["type"] == "tilelayer":
            for key, val in (("width", w), ("height", h), ("x", 0), ("y", 0), ("opacity", 1)):
                need(layer.get(key) == val, f"layer {layer['name']} {key} is {layer.get(key)!r}")
            data = layer["data"]
            need(len(data) == w * h, f"layer {layer['name']} holds {len(data)} tiles, not {w * h}")
            bad = [g for g in data if not (g == 0 or 1 <= g <= tilecount)]
            need(not bad, f"layer {layer['name']} has GIDs out of range: {sorted(set(bad))[:5]}")
            tile_layers[layer["name"]] = data
        elif layer["type"] == "objectgroup":
            for obj in layer["objects"]:
                for key in ("x", "y", "width", "height"):
                    need(obj[key] % 32 == 0, f"object {obj['name']} {key} not a multiple of 32")
    need(doc["nextlayerid"] > max(ids), "nextlayerid too small")
    need(set(tile_layers) >= {"floor", "walls", "furniture", "start"}, "missing tile layers")
    # collision as the server / grid-engine computes it: every tile layer counts,
    # a tile with no GID on any layer blocks.
    blocked = []
    for i in range(w * h):
        gids = [d[i] for d in tile_layers.values() if d[i]]
        blocked.append(not gids or any(g in collide for g in gids))
    floor = tile_layers["floor"]
    spawns = [i for i, g in enumerate(tile_layers["start"]) if g]
    need(len(spawns) >= 12, f"only {len(spawns)} spawn tiles")
    for i in spawns:
        need(floor[i] != 0 and not blocked[i], f"spawn tile {i % w},{i // w} is not free")
    seen = set(spawns)
    queue = deque(spawns)
    while queue:
        i = queue.popleft()
        x, y = i % w, i // w
        for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if 0 <= nx < w and 0 <= ny < h:
                j = ny * w + nx
                if j not in seen and not blocked[j]:
                    seen.add(j)
                    queue.append(j)
    free = [i for i in range(w * h) if not blocked[i]]
    unreached = [i for i in free if i not in seen]
    need(not unreached, f"{len(unreached)} free tiles not reachable from the spawns, e.g. "
         + ", ".join(f"{i % w},{i // w}" for i in unreached[:8]))
    need(all(floor[i] for i in free), "a free tile without floor")
    # every chair can be walked up to
    chairs = {G(f"chair facing {d}") for d in ("north", "south", "east", "west")}
    lonely = []
    for i, g in enumerate(tile_layers["furniture"]):
        if g in chairs:
            x, y = i % w, i // w
            if not any(0 <= nx < w and 0 <= ny < h and (ny * w + nx) in seen
                       for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1))):
                lonely.append(f"{x},{y}")
    need(not lonely, "chairs no one can reach: " + ", ".join(lonely[:8]))
    if errors:
        sys.exit("validation FAILED:\n  " + "\n  ".join(errors))
    return {"spawns": len(spawns), "free": len(free), "reached": len(seen)}


# --------------------------------------------------------------------------
# Preview
# --------------------------------------------------------------------------

ZONE_COLOURS = {"meetingRoom": (60, 110, 230), "silent": (40, 170, 90), "kitchen": (230, 150, 40),
                "open-space": (200, 60, 160), "lobby": (120, 120, 120), "start": (230, 40, 40)}


def render_preview(path: Path, map_path: Path, sheet_w, sheet_h, sheet, scale: float):
    doc = json.loads(map_path.read_text())
    w, h = doc["width"], doc["height"]
    step = max(1, round(1 / scale)) if scale < 1 else 1
    up = max(1, round(scale)) if scale >= 1 else 1
    ts = TILE // step * up
    # scaled tiles
    tiles = {}
    ncols = sheet_w // TILE
    for t in range(ncols * (sheet_h // TILE)):
        ox, oy = (t % ncols) * TILE, (t // ncols) * TILE
        c = Canvas(ts, ts)
        for y in range(ts):
            for x in range(ts):
                sx, sy = (x // up) * step, (y // up) * step
                acc = [0, 0, 0, 0]
                n = 0
                for dy in range(step):
                    for dx in range(step):
                        i = ((oy + sy + dy) * sheet_w + ox + sx + dx) * 4
                        a = sheet[i + 3]
                        for k in range(3):
                            acc[k] += sheet[i + k] * a
                        acc[3] += a
                        n += 1
                if acc[3]:
                    c.set(x, y, (acc[0] // acc[3], acc[1] // acc[3], acc[2] // acc[3], acc[3] // n))
        tiles[t + 1] = c
    out = Canvas(w * ts, h * ts)
    out.rect(0, 0, out.w, out.h, (30, 32, 40))
    for layer in doc["layers"]:
        if layer["type"] != "tilelayer":
            continue
        for i, g in enumerate(layer["data"]):
            if g:
                out.blit(tiles[g], (i % w) * ts, (i // w) * ts)
    for layer in doc["layers"]:
        if layer["type"] != "objectgroup":
            continue
        for obj in layer["objects"]:
            props = {p["name"]: p["value"] for p in obj.get("properties", [])}
            key = next((k for k in ("meetingRoom", "silent", "start") if k in props), props.get("zone"))
            col = ZONE_COLOURS.get(key, (255, 255, 255))
            f = ts / TILE
            x, y = int(obj["x"] * f), int(obj["y"] * f)
            ww, hh = int(obj["width"] * f), int(obj["height"] * f)
            out.frame(x + 1, y + 1, ww - 2, hh - 2, col + (220,), 2)
    write_png(path, out.w, out.h, out.buf)


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preview", type=Path, help="also render the whole map to this PNG")
    ap.add_argument("--scale", type=float, default=0.5, help="preview scale (0.25, 0.5, 1, 2)")
    ap.add_argument("--tileset-preview", type=Path, help="also write the tileset enlarged 2x here")
    args = ap.parse_args()

    sheet_w, sheet_h, sheet = build_tileset()
    write_png(TILESET_PNG, sheet_w, sheet_h, sheet)
    TILESET_TSJ.write_text(json.dumps(tileset_json(sheet_w, sheet_h, "office.png", embedded=False), indent=1) + "\n")

    office = build_office()
    floor, walls, furniture, start = finish_layers(office)
    doc = map_json([("floor", floor, True), ("walls", walls, True), ("furniture", furniture, True),
                    ("start", start, False)], office, sheet_w, sheet_h)
    MAP_TMJ.parent.mkdir(parents=True, exist_ok=True)
    MAP_TMJ.write_text(dump_tiled(doc))

    stats = validate(MAP_TMJ)
    print(f"wrote {TILESET_PNG.relative_to(ROOT)} ({sheet_w}x{sheet_h}, {len(TILES)} tiles), "
          f"{TILESET_TSJ.relative_to(ROOT)}, {MAP_TMJ.relative_to(ROOT)} ({W}x{H})")
    print(f"valid: {stats['spawns']} spawn tiles, {stats['free']} free tiles, all reachable")
    if args.tileset_preview:
        big = Canvas(sheet_w * 2, sheet_h * 2)
        for y in range(big.h):
            for x in range(big.w):
                i = ((y // 2) * sheet_w + x // 2) * 4
                big.set(x, y, tuple(sheet[i:i + 4]) if sheet[i + 3] else ((200, 200, 200) if (x // 8 + y // 8) % 2 else (235, 235, 235)))
        write_png(args.tileset_preview, big.w, big.h, big.buf)
    if args.preview:
        render_preview(args.preview, MAP_TMJ, sheet_w, sheet_h, sheet, args.scale)
        print(f"preview: {args.preview}")


if __name__ == "__main__":
    main()
