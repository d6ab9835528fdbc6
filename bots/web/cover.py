"""The site's cover image (podcast artwork, link previews), drawn once as a PNG with the standard library.

Podcast directories want a square 1400-3000 px JPEG or PNG; chat link previews show
``og:image``. No image library is needed for a gradient with a wave across it.
"""

from __future__ import annotations

import math
import struct
import zlib
from functools import cache

SIZE = 1400
TOP, BOTTOM = (41, 73, 201), (18, 19, 23)  # the stylesheet's accent and dark background
WAVE = (157, 178, 255)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@cache
def cover_png(size: int = SIZE) -> bytes:
    """A square PNG: a vertical gradient with three sine waves across the middle."""
    waves = [
        [size / 2 + size * amp * math.sin(2 * math.pi * (x / size) * freq + phase) for x in range(size)]
        for amp, freq, phase in ((0.08, 2.0, 0.0), (0.05, 3.0, 1.0), (0.03, 5.0, 2.0))
    ]
    thickness = size / 140
    rows = []
    for y in range(size):
        t = y / (size - 1)
        rows.append(bytearray(bytes(round(a + (b - a) * t) for a, b in zip(TOP, BOTTOM, strict=True)) * size))
    colour = bytes(WAVE)
    for wave in waves:
        for x, middle in enumerate(wave):
            for y in range(max(0, math.ceil(middle - thickness)), min(size, math.floor(middle + thickness) + 1)):
                rows[y][3 * x : 3 * x + 3] = colour
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + bytes(row) for row in rows), 9))
        + _chunk(b"IEND", b"")
    )
