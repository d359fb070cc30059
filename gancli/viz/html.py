"""Self-contained HTML pages: one file that a browser shows offline, with nothing fetched.

The page skeleton and its CSS (``page``), images embedded as ``data:`` URIs (``image``,
``data_uri``, ``png_bytes``), tables whose cells are escaped (``table``), and the small parts a
report is made of (``section``, ``note``, ``pre``, ``details``). Text is escaped everywhere;
``Raw`` marks a string that is already HTML. No JavaScript, no external style sheet or font.
Used by ``gancli compare``'s study page and ``gancli report``'s run page.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

#: the CSS of every page (a study's page uses exactly this)
STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
         "td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}td:first-child,th:first-child"
         "{text-align:left}img{max-width:100%;image-rendering:pixelated}pre{background:#f4f4f4;padding:8px}"
         ".note{color:#a40}")

#: image types by file suffix
MIME_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".webp": "image/webp"}


class Raw(str):
    """A string that is already HTML: ``esc`` and the table cells leave it as it is."""


def esc(text: object) -> str:
    """Text -> HTML-escaped text (quotes too, for attributes); ``Raw`` passes unchanged."""
    return text if isinstance(text, Raw) else html.escape(str(text))


def data_uri(data: bytes, mime: str) -> str:
    """``data:<mime>;base64,...``: a file's bytes inside the page."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def mime_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in MIME_TYPES:
        raise ValueError(f"no image type known for {path}")
    return MIME_TYPES[suffix]


def png_bytes(array: np.ndarray, scale: int = 1) -> bytes:
    """uint8 (H, W, 3) -> the bytes of a PNG, enlarged ``scale`` times (nearest neighbour)."""
    from PIL import Image

    img = Image.fromarray(np.asarray(array, dtype=np.uint8))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def image(source: str | Path | bytes, alt: str, mime: str | None = None, width: int | None = None) -> str:
    """``<img>`` embedding an image file (type from its suffix) or bytes (``mime``, default PNG);
    ``width``: the width to show it at, in CSS pixels [its own]."""
    if isinstance(source, bytes):
        data, mime = source, mime or "image/png"
    else:
        data, mime = Path(source).read_bytes(), mime or mime_of(source)
    size = f" width='{int(width)}'" if width else ""
    return f"<img alt='{esc(alt)}'{size} src='{data_uri(data, mime)}'>"


def figure(body: str, caption: str) -> str:
    """An image (or any HTML) with a caption under it."""
    return f"<figure>{body}<figcaption>{esc(caption)}</figcaption></figure>"


def cell(text: object, tag: str = "td") -> str:
    return f"<{tag}>{esc(text)}</{tag}>"


def table(header: Sequence[object] | None, rows: Iterable[Sequence[object]], cls: str | None = None) -> str:
    """A table: ``header`` cells (None: no head row), then one row per sequence of cells; every
    cell escaped unless it is ``Raw``. ``cls``: a CSS class for the table."""
    head = ("<thead><tr>" + "".join(cell(h, "th") for h in header) + "</tr></thead>") if header is not None else ""
    body = "".join("<tr>" + "".join(cell(c) for c in cells) + "</tr>" for cells in rows)
    opening = "<table>" if cls is None else f"<table class='{esc(cls)}'>"
    return f"{opening}{head}<tbody>{body}</tbody></table>"


def section(title: str, body: str, anchor: str | None = None) -> str:
    """A heading (``id`` = ``anchor``, for links within the page) and its body."""
    ident = f" id='{esc(anchor)}'" if anchor else ""
    return f"<h2{ident}>{esc(title)}</h2>{body}"


def note(text: str) -> str:
    """A short remark in the page's note colour: what is missing, and how to get it."""
    return f"<p class='note'>{esc(text)}</p>"


def paragraph(text: str) -> str:
    return f"<p>{esc(text)}</p>"


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def details(summary: str, body: str, open_: bool = False) -> str:
    """A block the reader unfolds (shown unfolded with ``open_``)."""
    return f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>{body}</details>"


def page(title: str, heading: str, body: str, style: str = "") -> str:
    """The whole document: ``title`` in the tab, ``heading`` as the h1, ``body`` (HTML), and the
    shared CSS followed by ``style``."""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{STYLE}{style}</style></head><body><h1>{esc(heading)}</h1>{body}</body></html>\n")


__all__ = ["MIME_TYPES", "Raw", "STYLE", "cell", "data_uri", "details", "esc", "figure", "image", "mime_of", "note",
           "page", "paragraph", "png_bytes", "pre", "section", "table"]
