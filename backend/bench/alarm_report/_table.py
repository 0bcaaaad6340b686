"""The alarm report as a rich table (``anjian alarm-report`` without ``--json``)."""

from __future__ import annotations

from typing import Any

from backend.bench.alarm_report._figures import TARGET_PER_HOUR, AlarmReport


def table(report: AlarmReport) -> Any:
    """The per-site figures as a rich table."""
    from rich import box
    from rich.table import Table

    caught = sum(h.caught for h in report.hazards)
    verdict = "达标 within target" if report.meets_target else "未达标 NOT within target"
    out = Table(
        title=(
            f"告警负荷 Alarm load (ISA-18.2) · {report.hours:g} h simulated · "
            f"{report.sensors} sensors · seed {report.seed}"
        ),
        caption=(
            f"目标 Target: ≤ {TARGET_PER_HOUR:g} alarms/site/h, no chattering, every scripted "
            f"hazard caught · 脚本险情 scripted hazards caught {caught}/{len(report.hazards)} · "
            f"{verdict} · {report.readings:,} readings in {report.wall_seconds:g} s"
        ),
        box=box.SIMPLE_HEAD,
    )
    for name, justify in (
        ("场所 Site", "left"),
        ("Alarms", "right"),
        ("/h", "right"),
        ("Peak/10 min", "right"),
        ("Flood %", "right"),
        ("Chattering", "right"),
        ("Standing", "right"),
        ("Escalations", "right"),
        ("Hazards caught", "right"),
        ("Top sources", "left"),
    ):
        out.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in report.sites:
        out.add_row(
            f"{s.site} ({s.industry})",
            str(s.alarms),
            f"{s.per_hour:.2f}",
            str(s.peak_per_10min),
            f"{100 * s.flood_share:.1f}",
            str(s.chattering),
            str(s.standing),
            str(s.escalations),
            f"{s.hazards_caught}/{s.hazards}" if s.hazards else "-",
            ", ".join(f"{k} ×{v}" for k, v in s.sources.items()) or "-",
        )
    return out
