"""PNG header reading: the size a real PNG states, None for anything else."""

from __future__ import annotations

from io import BytesIO

from PIL import Image

from mibench.report.png import png_size


def test_the_size_of_a_real_png_and_none_for_other_formats() -> None:
    buffer = BytesIO()
    Image.new("RGB", (123, 45)).save(buffer, format="PNG")
    assert png_size(buffer.getvalue()) == (123, 45)
    buffer = BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    assert png_size(buffer.getvalue()) is None
    assert png_size(b"") is None
