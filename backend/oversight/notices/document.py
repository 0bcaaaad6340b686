"""The printable notice (整改通知书) as a PDF, laid out like the paper one an inspector hands
over: the issuing authority, the number (文号), the enterprise addressed, the findings with
their legal basis and the regulator's photos of them, the deadline, and the delivery record
(送达).

Rendered by WeasyPrint from an HTML template with Debian's Noto CJK fonts (installed by
``scripts/ensure-fonts``). The template is autoescaped and the renderer fetches nothing but the
findings' photos, from memory: small copies of the sanitised uploads, made before the layout,
under ``photo:<n>`` names; any other address (a file, a URL) is refused.
No person is named: the enterprise's people are personal data, and the notice is issued by the
authority, not by one of its officers.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

import weasyprint
from jinja2 import Environment
from PIL import Image, ImageFile
from weasyprint.urls import URLFetcher, URLFetcherResponse

from backend.core.errors import NotFound

# Importing WeasyPrint tells Pillow to accept truncated images, process-wide. The photo
# sanitiser refuses a truncated upload on exactly that check, and a notice draws only the
# thumbnails made here from whole, sanitised images: put it back.
ImageFile.LOAD_TRUNCATED_IMAGES = False

log = logging.getLogger("anjian.notices")

# A thumbnail's longest side in pixels: sharp at the printed 40 mm, small in the file.
THUMBNAIL_PIXELS = 480

CHINA = ZoneInfo("Asia/Shanghai")

_TEMPLATE = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    files(__package__).joinpath("notice.html").read_text(encoding="utf-8")
)


@dataclass(frozen=True)
class PrintedItem:
    finding: str
    basis: str | None  # the legal basis
    photos: tuple[str, ...] = ()  # the regulator's photos of it: keys in the object store


@dataclass(frozen=True)
class NoticeDocument:
    authority: str  # 南京市应急管理局
    number: str  # 南京市应急整改〔2026〕3号
    enterprise: str
    site: str
    site_address: str | None
    items: list[PrintedItem]
    deadline: datetime
    issued_at: datetime
    received_at: datetime | None
    status: str  # as the portals name it, in Chinese

    @property
    def file_name(self) -> str:
        return f"rectification-notice-{self.issued_at.astimezone(CHINA):%Y}-{self.number}.pdf"


def _day(moment: datetime) -> str:
    local = moment.astimezone(CHINA)
    return f"{local.year}年{local.month}月{local.day}日"


def _minute(moment: datetime) -> str:
    local = moment.astimezone(CHINA)
    return f"{_day(moment)} {local:%H:%M}"


class _PhotosOnly(URLFetcher):  # type: ignore[misc]  # WeasyPrint is untyped
    """Answers the thumbnails made for this document, from memory; refuses everything else."""

    def __init__(self, thumbnails: Mapping[str, bytes]) -> None:
        super().__init__(allowed_protocols=("photo",))
        self._thumbnails = thumbnails

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        body = self._thumbnails.get(url)
        if body is None:
            raise NotFound(f"the notice document loads nothing: {url}")
        return URLFetcherResponse(url, body, {"Content-Type": "image/jpeg"})


def _thumbnail(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))  # JPEG: decode at a fraction
        small = image.convert("RGB")
    small.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue()


def render_notice_pdf(
    document: NoticeDocument, load_photo: Callable[[str], bytes] | None = None
) -> bytes:
    """The notice as an A4 PDF (a second or so of CPU, more with photos, reading them with
    ``load_photo``: run it off the event loop). A photo that cannot be read is counted but not
    drawn."""
    thumbnails: dict[str, bytes] = {}
    drawn: list[list[str]] = []
    for item in document.items:
        names = []
        for key in item.photos if load_photo is not None else ():
            try:
                small = _thumbnail(load_photo(key))
            except Exception:  # a missing or unreadable object: the count still shows it
                log.warning("notice photo %s not drawn", key, exc_info=True)
                continue
            name = f"photo:{len(thumbnails)}"
            thumbnails[name] = small
            names.append(name)
        drawn.append(names)
    html = _TEMPLATE.render(
        notice=document,
        items=list(zip(document.items, drawn, strict=True)),
        deadline=_day(document.deadline),
        issued_on=_day(document.issued_at),
        received=None if document.received_at is None else _minute(document.received_at),
    )
    pdf = weasyprint.HTML(string=html, url_fetcher=_PhotosOnly(thumbnails)).write_pdf()
    assert pdf is not None  # no target given: the bytes are returned
    return pdf
