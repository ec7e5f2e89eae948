"""A tiny raster canvas and PNG encoder (zlib + struct), for report plots without matplotlib.

Deterministic: the same drawing gives the same bytes, so reports can be
snapshot-tested.  Text uses a 3x5 pixel font (digits, a few symbols and the
lowercase letters the plots need), drawn at an integer scale.
"""

from __future__ import annotations

import struct
import zlib

Color = tuple[int, int, int]

WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
GREY: Color = (200, 200, 200)
DARK_GREY: Color = (110, 110, 110)
BLUE: Color = (31, 119, 180)
ORANGE: Color = (230, 110, 20)
LIGHT_BLUE: Color = (205, 225, 245)
RED: Color = (200, 30, 30)
GREEN: Color = (40, 150, 60)

_FONT: dict[str, tuple[str, str, str, str, str]] = {
    "0": ("111", "101", "101", "101", "111"), "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"), "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"), "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"), "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"), "9": ("111", "101", "111", "001", "111"),
    ".": ("000", "000", "000", "000", "010"), "-": ("000", "000", "111", "000", "000"),
    "+": ("000", "010", "111", "010", "000"), "%": ("101", "001", "010", "100", "101"),
    "/": ("001", "001", "010", "100", "100"), "=": ("000", "111", "000", "111", "000"),
    "(": ("010", "100", "100", "100", "010"), ")": ("010", "001", "001", "001", "010"),
    ":": ("000", "010", "000", "010", "000"), " ": ("000", "000", "000", "000", "000"),
    "a": ("000", "011", "101", "101", "011"), "b": ("100", "110", "101", "101", "110"),
    "c": ("000", "011", "100", "100", "011"), "d": ("001", "011", "101", "101", "011"),
    "e": ("000", "010", "111", "100", "011"), "f": ("011", "010", "111", "010", "010"),
    "g": ("000", "011", "101", "011", "110"), "h": ("100", "110", "101", "101", "101"),
    "i": ("010", "000", "010", "010", "010"), "k": ("100", "101", "110", "110", "101"),
    "l": ("110", "010", "010", "010", "111"), "m": ("000", "110", "111", "101", "101"),
    "n": ("000", "110", "101", "101", "101"), "o": ("000", "010", "101", "101", "010"),
    "p": ("000", "110", "101", "110", "100"), "q": ("000", "011", "101", "011", "001"),
    "r": ("000", "101", "110", "100", "100"), "s": ("000", "011", "110", "011", "110"),
    "t": ("010", "111", "010", "010", "011"), "u": ("000", "101", "101", "101", "011"),
    "v": ("000", "101", "101", "101", "010"), "w": ("000", "101", "101", "111", "111"),
    "x": ("000", "101", "010", "010", "101"), "y": ("000", "101", "101", "011", "110"),
}
_UNKNOWN = ("111", "101", "101", "101", "111")


class Canvas:
    """RGB pixels, origin top-left."""

    def __init__(self, width: int, height: int, background: Color = WHITE):
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def set(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i:i + 3] = bytes(color)

    def get(self, x: int, y: int) -> Color:
        i = (y * self.width + x) * 3
        return (self.pixels[i], self.pixels[i + 1], self.pixels[i + 2])

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Filled, inclusive corners."""
        for y in range(max(0, min(y0, y1)), min(self.height, max(y0, y1) + 1)):
            for x in range(max(0, min(x0, x1)), min(self.width, max(x0, x1) + 1)):
                i = (y * self.width + x) * 3
                self.pixels[i:i + 3] = bytes(color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color, thickness: int = 1,
             dash: int = 0) -> None:
        """Bresenham; ``dash`` > 0 draws dashes of that many pixels."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        n = 0
        while True:
            if not dash or (n // dash) % 2 == 0:
                for t in range(thickness):
                    self.set(x0, y0 + t, color)
                    self.set(x0 + t, y0, color)
            n += 1
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x: int, y: int, text: str, color: Color = BLACK, scale: int = 2) -> None:
        for ch in text:
            glyph = _FONT.get(ch, _FONT.get(ch.lower(), _UNKNOWN))
            for row, bits in enumerate(glyph):
                for col, bit in enumerate(bits):
                    if bit == "1":
                        self.rect(x + col * scale, y + row * scale, x + col * scale + scale - 1,
                                  y + row * scale + scale - 1, color)
            x += 4 * scale

    @staticmethod
    def text_width(text: str, scale: int = 2) -> int:
        return max(0, len(text) * 4 * scale - scale)

    def to_png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.pixels[y * self.width * 3:(y + 1) * self.width * 3])
                       for y in range(self.height))
        return (b"\x89PNG\r\n\x1a\n"
                + _chunk(b"IHDR", struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0))
                + _chunk(b"IDAT", zlib.compress(raw, 9))
                + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def decode_png(data: bytes) -> Canvas:
    """Read back what :meth:`Canvas.to_png` writes (8-bit RGB, filter 0): for tests."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"bad CRC in {kind!r}")
        if kind == b"IHDR":
            width, height, depth, ctype, _, filt, _ = struct.unpack(">IIBBBBB", body)
            if (depth, ctype, filt) != (8, 2, 0):
                raise ValueError("only 8-bit RGB")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    canvas = Canvas(width, height)
    stride = width * 3 + 1
    for y in range(height):
        row = raw[y * stride:(y + 1) * stride]
        if row[0] != 0:
            raise ValueError("only filter type 0")
        canvas.pixels[y * width * 3:(y + 1) * width * 3] = row[1:]
    return canvas
