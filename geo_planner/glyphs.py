"""Glyphs for MapLibre GL text, made here from a font on this machine: no font server, no network.

MapLibre draws text from signed-distance-field glyphs, fetched per 256 code points as
protocol-buffer files (``{fontstack}/{start}-{end}.pbf``). Chinese characters need none: the
browser draws them with its own CJK fonts (``localIdeographFontFamily``). Latin letters, digits
and punctuation — ``G320``, ``5号楼``, ``（东）`` — do. Instead of shipping a glyph package or
calling a font server, :func:`glyph_range` renders them on demand the way node-fontnik does
(24 px, a 3 px border, radius 8, cut-off 0.25) from DejaVu Sans, the font every matplotlib
install carries, or from a system CJK font for the CJK punctuation ranges; the distance
field is scipy's exact Euclidean distance transform of the rasterised glyph.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Final

import numpy as np
from scipy import ndimage

from .errors import InputError, Problem

__all__ = ["GLYPH_FONT", "GLYPH_SIZE", "glyph_range", "range_name"]

log = logging.getLogger(__name__)

#: Font stack name of the glyphs the base map's style asks for (Latin letters, digits, punctuation).
GLYPH_FONT: Final = "GeoPlanner Sans"
#: Font size of the glyphs, pixels (MapLibre's ``ONE_EM``).
GLYPH_SIZE: Final[int] = 24
_BORDER: Final[int] = 3
_RADIUS: Final[float] = 8.0
_CUTOFF: Final[float] = 0.25
#: MapLibre's baseline shift for glyphs (the one it uses for locally drawn CJK: they line up).
_TOP_ADJUST: Final[int] = 27
_CJK_FILES: Final = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                     "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                     "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def range_name(start: int) -> str:
    """The file name of the range holding ``start`` (``0-255``, ``256-511`` …)."""
    lo = start - start % 256
    return f"{lo}-{lo + 255}"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, value: int | bytes, *, signed: bool = False) -> bytes:
    if isinstance(value, bytes):
        return _varint(num << 3 | 2) + _varint(len(value)) + value
    if signed:
        value = (value << 1) ^ (value >> 31)
    return _varint(num << 3) + _varint(value)


#: Face of a font collection: Noto Sans CJK's simplified-Chinese face (JP, KR, SC, TC, HK).
_TTC_INDEX: Final = 2


@functools.lru_cache(maxsize=4)
def _font(path: str) -> tuple[object, frozenset[int]]:
    """The font at :data:`GLYPH_SIZE` (Pillow, basic layout) and the code points it has."""
    from fontTools.ttLib import TTFont
    from PIL import ImageFont

    index = _TTC_INDEX if path.endswith(".ttc") else 0
    cmap = TTFont(path, fontNumber=index, lazy=True).getBestCmap() or {}
    font = ImageFont.truetype(path, GLYPH_SIZE, index=index, layout_engine=ImageFont.Layout.BASIC)
    return font, frozenset(cmap)


def _latin_font() -> str:
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


def _font_for(start: int) -> str | None:
    if start < 0x2E80:
        return _latin_font()
    return next((p for p in _CJK_FILES if Path(p).is_file()), None)


def _glyph(font: object, code: int) -> bytes | None:
    """One glyph message, or ``None`` when the font has no such character."""
    from PIL import Image, ImageDraw

    ch = chr(code)
    left, top, right, bottom = font.getbbox(ch, anchor="ls")  # type: ignore[attr-defined]
    advance = int(round(font.getlength(ch)))  # type: ignore[attr-defined]
    w, h = max(0, right - left), max(0, bottom - top)
    msg = _field(1, code)
    if w and h:
        pad = _BORDER + int(_RADIUS)
        img = Image.new("L", (w + 2 * pad, h + 2 * pad), 0)
        ImageDraw.Draw(img).text((pad - left, pad - top), ch, font=font, fill=255, anchor="ls")  # type: ignore[arg-type]
        ink = np.asarray(img, dtype=np.float64) / 255.0
        inside = ink >= 0.5
        dist = ndimage.distance_transform_edt(~inside) - ndimage.distance_transform_edt(inside)
        dist = dist + (0.5 - ink) * (ink > 0) * (ink < 1)  # antialiased edge pixels: sub-pixel distance
        sdf = np.clip(255.0 - 255.0 * (dist / _RADIUS + _CUTOFF), 0, 255).astype(np.uint8)
        crop = sdf[pad - _BORDER: pad + h + _BORDER, pad - _BORDER: pad + w + _BORDER]
        msg += _field(2, crop.tobytes())
    msg += _field(3, w) + _field(4, h) + _field(5, int(left), signed=True)
    msg += _field(6, int(-top) - _TOP_ADJUST, signed=True) + _field(7, advance)
    return msg


@functools.lru_cache(maxsize=16)
def glyph_range(fontstack: str, start: int) -> bytes:
    """The glyph PBF of the 256 code points from ``start`` (a multiple of 256) for ``fontstack``.

    Parameters
    ----------
    fontstack
        The name the style asks for (``text-font``); it only names the stack: Latin from
        DejaVu Sans, CJK punctuation from the system's CJK font.
    start
        First code point of the range, a multiple of 256 below 65536.

    Returns
    -------
    bytes
        A ``glyphs`` protocol buffer (possibly with no glyph: the browser then draws nothing
        for those characters, and CJK ideographs locally).

    Raises
    ------
    InputError
        If ``start`` is not a range start.
    """
    if start < 0 or start % 256 or start >= 65536:
        raise InputError(Problem("glyphs", None, "range",
                                 f"{start} is not the start of a 256-code-point range"))
    path = _font_for(start)
    glyphs = b""
    if path is not None:
        font, has = _font(path)
        for code in range(start, start + 256):
            if code < 32 or code not in has:
                continue
            g = _glyph(font, code)
            if g is not None:
                glyphs += _field(3, g)
    stack = _field(1, fontstack.encode("utf-8")) + _field(2, range_name(start).encode("ascii")) + glyphs
    return _field(1, stack)
