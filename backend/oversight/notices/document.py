"""The printable notice (整改通知书) as a PDF, laid out like the paper one an inspector hands
over: the issuing authority, the number (文号), the enterprise addressed, the findings with
their legal basis, the deadline, and the delivery record (送达).

Rendered by WeasyPrint from an HTML template with Debian's Noto CJK fonts (installed by
``scripts/ensure-fonts``). The template is autoescaped and the renderer fetches nothing: every
byte of the document is in the string it is given, so a finding cannot pull in a file or a URL.
No person is named: the enterprise's people are personal data, and the notice is issued by the
authority, not by one of its officers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from zoneinfo import ZoneInfo

import weasyprint
from jinja2 import Environment
from PIL import ImageFile

from backend.core.errors import NotFound

# Importing WeasyPrint tells Pillow to accept truncated images, process-wide. The photo
# sanitiser refuses a truncated upload on exactly that check, and a notice draws no image:
# put it back.
ImageFile.LOAD_TRUNCATED_IMAGES = False

CHINA = ZoneInfo("Asia/Shanghai")

_TEMPLATE = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    files(__package__).joinpath("notice.html").read_text(encoding="utf-8")
)


@dataclass(frozen=True)
class NoticeDocument:
    authority: str  # 南京市应急管理局
    number: str  # 南京市应急整改〔2026〕3号
    enterprise: str
    site: str
    site_address: str | None
    items: list[tuple[str, str | None]]  # (finding, legal basis)
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


def _refuse_fetch(url: str, timeout: int = 10, ssl_context: object = None) -> dict[str, object]:
    raise NotFound(f"the notice document loads nothing: {url}")


def render_notice_pdf(document: NoticeDocument) -> bytes:
    """The notice as an A4 PDF (a second or so of CPU: run it off the event loop)."""
    html = _TEMPLATE.render(
        notice=document,
        deadline=_day(document.deadline),
        issued_on=_day(document.issued_at),
        received=None if document.received_at is None else _minute(document.received_at),
    )
    pdf = weasyprint.HTML(string=html, url_fetcher=_refuse_fetch).write_pdf()
    assert pdf is not None  # no target given: the bytes are returned
    return pdf
