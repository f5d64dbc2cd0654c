"""The planner's map: an SVG drawn from the data, no tile server (issue 22, item 6).

Settlements are circles whose *area* is proportional to their population, coloured by
their class (a gap under the chosen norm edition or not; access within or beyond the
pack's threshold), facilities are symbols by their unit's level, and the district's
outline is the convex hull of its settlements (scipy), drawn when there are three points
not on one line. Positions are projected equirectangularly: x = longitude x cos(mean
latitude), y = latitude, scaled into the viewBox with the same scale on both axes, so a
settlement west of another is drawn to its left and one north of it above it.

Pure: the caller hands the settlements, facilities and every word (already in the
reader's language); every text is escaped here, and the output is deterministic (the
same input gives the same bytes: coordinates rounded to 0.1 px, input order kept).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

__all__ = [
    "CLASS_COLOURS",
    "MapFacility",
    "MapLabels",
    "MapSettlement",
    "Projection",
    "draw_map",
    "projection",
]

#: fill colour of each settlement class (the legend uses the same)
CLASS_COLOURS = {
    "gap": "#c5221f",
    "no_gap": "#188038",
    "beyond": "#e37400",
    "within": "#1a73e8",
    "unknown": "#9aa0a6",
}
#: the unit levels' symbols, lowest level first (the pack orders the units)
SYMBOLS = ("cross", "square", "triangle", "diamond", "star")
#: the smallest span drawn (degrees), so one settlement or a line of them still fits
MIN_SPAN = 0.01


@dataclass(frozen=True)
class MapSettlement:
    code: str
    name: str
    latitude: float
    longitude: float
    population: int | None
    #: a key of CLASS_COLOURS
    klass: str
    #: the figures named in the circle's title (already worded: "1,200 people; gap: FAP")
    detail: str = ""


@dataclass(frozen=True)
class MapFacility:
    name: str
    latitude: float
    longitude: float
    #: the unit's level (0 = lowest); decides the symbol
    level: int
    detail: str = ""


@dataclass(frozen=True)
class MapLabels:
    """Every word the map shows, in the reader's language."""

    title: str
    desc: str
    #: class key -> its legend text (only the classes given are in the legend)
    classes: dict[str, str] = field(default_factory=dict)
    #: level -> the legend text of its facility symbol
    levels: dict[int, str] = field(default_factory=dict)
    outline: str = ""


@dataclass(frozen=True)
class Projection:
    """Degrees to viewBox pixels (equirectangular at the points' mean latitude)."""

    lon0: float
    lat1: float
    cos_lat: float
    scale: float
    x0: float
    y0: float

    def __call__(self, latitude: float, longitude: float) -> tuple[float, float]:
        x = self.x0 + (longitude - self.lon0) * self.cos_lat * self.scale
        y = self.y0 + (self.lat1 - latitude) * self.scale
        return round(x, 1), round(y, 1)


def projection(
    points: Sequence[tuple[float, float]], width: float, height: float, margin: float
) -> Projection:
    """The projection fitting ``points`` (latitude, longitude) into the box
    ``margin .. width - margin`` x ``margin .. height - margin``, centred."""
    if not points:
        return Projection(0.0, 0.0, 1.0, 1.0, width / 2, height / 2)
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    cos_lat = math.cos(math.radians((min(lats) + max(lats)) / 2))
    span_x = max((max(lons) - min(lons)) * cos_lat, MIN_SPAN)
    span_y = max(max(lats) - min(lats), MIN_SPAN)
    inner_w, inner_h = width - 2 * margin, height - 2 * margin
    scale = min(inner_w / span_x, inner_h / span_y)
    # centre: the drawn extent beside the box's
    drawn_w = (max(lons) - min(lons)) * cos_lat * scale
    drawn_h = (max(lats) - min(lats)) * scale
    return Projection(
        lon0=min(lons),
        lat1=max(lats),
        cos_lat=cos_lat,
        scale=scale,
        x0=margin + (inner_w - drawn_w) / 2,
        y0=margin + (inner_h - drawn_h) / 2,
    )


def _f(v: float) -> str:
    return f"{v:.1f}"


def _hull(xy: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The convex hull's corners (counter-clockwise), or none for fewer than three points
    off one line."""
    unique = sorted(set(xy))
    if len(unique) < 3:
        return []
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = ConvexHull(unique)
    except QhullError:  # all on one line
        return []
    return [unique[i] for i in hull.vertices]


def _symbol(kind: str, x: float, y: float, s: float) -> str:
    if kind == "cross":
        return (
            f'<path d="M{_f(x - s)} {_f(y)}H{_f(x + s)}M{_f(x)} {_f(y - s)}V{_f(y + s)}" '
            'stroke="#202124" stroke-width="2" fill="none"'
        )
    if kind == "square":
        return (
            f'<rect x="{_f(x - s)}" y="{_f(y - s)}" width="{_f(2 * s)}" height="{_f(2 * s)}" '
            'fill="#202124"'
        )
    if kind == "triangle":
        return (
            f'<path d="M{_f(x)} {_f(y - s)}L{_f(x + s)} {_f(y + s)}L{_f(x - s)} {_f(y + s)}Z" '
            'fill="#202124"'
        )
    if kind == "diamond":
        return (
            f'<path d="M{_f(x)} {_f(y - s)}L{_f(x + s)} {_f(y)}L{_f(x)} {_f(y + s)}'
            f'L{_f(x - s)} {_f(y)}Z" fill="#202124"'
        )
    points = []
    for k in range(10):
        r = s if k % 2 == 0 else s / 2.2
        a = math.pi / 2 + k * math.pi / 5
        points.append(f"{_f(x + r * math.cos(a))},{_f(y - r * math.sin(a))}")
    return f'<polygon points="{" ".join(points)}" fill="#202124"'


def _symbol_of(level: int) -> str:
    return SYMBOLS[min(max(level, 0), len(SYMBOLS) - 1)]


def draw_map(
    settlements: Sequence[MapSettlement],
    facilities: Sequence[MapFacility],
    labels: MapLabels,
    *,
    width: int = 720,
    height: int = 480,
    outline: bool = True,
    ident: str = "planning-map",
) -> str:
    """The SVG document fragment (a string of markup, every text escaped)."""
    margin, r_min, r_max = 24.0, 2.5, 16.0
    placed = [s for s in settlements if _finite(s.latitude, s.longitude)]
    placed_f = [f for f in facilities if _finite(f.latitude, f.longitude)]
    proj = projection(
        [(s.latitude, s.longitude) for s in placed] + [(f.latitude, f.longitude) for f in placed_f],
        width,
        height,
        margin + r_max / 2,
    )
    with_outline = 1 if outline and labels.outline else 0
    legend_rows = len(labels.classes) + len(labels.levels) + with_outline
    legend_h = 22 * legend_rows + 12 if legend_rows else 0
    total_h = height + legend_h
    tid, did = f"{ident}-title", f"{ident}-desc"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total_h}" '
        f'width="{width}" height="{total_h}" role="img" aria-labelledby="{escape(tid)} '
        f'{escape(did)}" data-testid="{escape(ident)}" id="{escape(ident)}">',
        f'<title id="{escape(tid)}">{escape(labels.title)}</title>',
        f'<desc id="{escape(did)}">{escape(labels.desc)}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8f9fa" stroke="#dadce0"/>',
    ]
    if outline:
        corners = _hull([proj(s.latitude, s.longitude) for s in placed])
        if corners:
            path = " ".join(f"{_f(x)},{_f(y)}" for x, y in corners)
            out.append(
                f'<polygon points="{path}" fill="#e8f0fe" stroke="#5f6368" '
                'stroke-dasharray="4 3" data-testid="map-outline"/>'
            )
    biggest = max((s.population or 0 for s in placed), default=0)
    # big circles first, so a small village on top of a town stays visible
    order = sorted(range(len(placed)), key=lambda i: (-(placed[i].population or 0), i))
    for i in order:
        s = placed[i]
        x, y = proj(s.latitude, s.longitude)
        share = (s.population or 0) / biggest if biggest else 0.0
        r = r_min + (r_max - r_min) * math.sqrt(max(share, 0.0))
        colour = CLASS_COLOURS.get(s.klass, CLASS_COLOURS["unknown"])
        tip = f"{s.name}: {s.detail}" if s.detail else s.name
        out.append(
            f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(r)}" fill="{colour}" fill-opacity="0.8" '
            f'stroke="#fff" stroke-width="0.8" data-code="{escape(s.code)}" '
            f'data-class="{escape(s.klass)}"><title>{escape(tip)}</title></circle>'
        )
    for f in placed_f:
        x, y = proj(f.latitude, f.longitude)
        tip = f"{f.name}: {f.detail}" if f.detail else f.name
        out.append(
            f'{_symbol(_symbol_of(f.level), x, y, 4.5)} data-level="{f.level}">'
            f"<title>{escape(tip)}</title></{_tag(_symbol_of(f.level))}>"
        )
    y = height + 20
    for key, text in labels.classes.items():
        colour = CLASS_COLOURS.get(key, CLASS_COLOURS["unknown"])
        out.append(f'<circle cx="16" cy="{y - 4}" r="6" fill="{colour}"/>')
        out.append(f'<text x="30" y="{y}" font-size="13">{escape(text)}</text>')
        y += 22
    for level, text in sorted(labels.levels.items()):
        sym = _symbol_of(level)
        out.append(f"{_symbol(sym, 16, y - 4, 5)}></{_tag(sym)}>")
        out.append(f'<text x="30" y="{y}" font-size="13">{escape(text)}</text>')
        y += 22
    if outline and labels.outline:
        out.append(
            f'<rect x="10" y="{y - 10}" width="12" height="12" fill="#e8f0fe" stroke="#5f6368" '
            'stroke-dasharray="4 3"/>'
        )
        out.append(f'<text x="30" y="{y}" font-size="13">{escape(labels.outline)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _tag(kind: str) -> str:
    return {"square": "rect", "star": "polygon"}.get(kind, "path")


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)
