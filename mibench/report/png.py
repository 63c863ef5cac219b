"""PNG header reading: a figure's pixel size without decoding it (the HTML report states it)."""

from __future__ import annotations

import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIME = {".png": "image/png", ".svg": "image/svg+xml"}


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk (the first chunk, bytes 16-24), or None for
    another format.

    Examples:
        >>> header = PNG_SIGNATURE + bytes(4) + b"IHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big")
        >>> png_size(header), png_size(b"<svg/>")
        ((640, 480), None)
    """
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)
