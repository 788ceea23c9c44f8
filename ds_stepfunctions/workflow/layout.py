"""Where the boxes, arrows and lines of text of a state machine's picture go.

`arrange` knows nothing of ASL (graph.py turns a definition into boxes and edges, and draws the
result as SVG or PNG). A box's layer is its distance from the start, its place in the layer the
order it was reached; an edge to an earlier layer (a retry or catch loop) bends around the side.

Every line of text is measured with Helvetica's widths, the font the SVG asks for (Arial and
Liberation Sans have the same ones), and the canvas is the bounding box of all that is drawn plus
a margin: a caption sticking out on one side (a long Choice rule, a Catch on a loop) widens the
canvas instead of being clipped by it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

FONT_SIZE = 13  # a state's name, in bold
SMALL_FONT_SIZE = 11  # a state's detail line and the edges' captions
NODE_HEIGHT = 44
TERMINAL_HEIGHT = 32  # the Start and End markers
MIN_NODE_WIDTH = 80
NODE_PADDING = 16  # on each side of a box's text
LAYER_GAP = 56
NODE_GAP = 28
CAPTION_ROOM = 40  # landscape: extra room between layers, for the captions of the edges
CAPTION_RISE = 4  # a caption's baseline above its spot on the curve
CAPTION_PADDING = 6  # free space around a caption
# Where along its curve a caption may go (0 is the start, 1 the end), in order of preference.
CAPTION_SPOTS = (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8, 0.1, 0.9)
LOOP_REACH = 60  # how far a loop back to an earlier layer bends out past its ends
MARGIN = 24

START, END = "__start__", "__end__"  # the keys of the Start and End markers

# Helvetica's advance widths in 1/1000 em (Adobe's AFM files) for " " to "~", regular and bold.
_WIDTHS = {
    False: (278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556,
            556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667,
            667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722,
            667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500,
            556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278,
            556, 500, 722, 500, 500, 500, 334, 260, 334, 584),
    True: (278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556,
           556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722,
           722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722,
           667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556,
           611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333,
           611, 556, 778, 556, 556, 500, 389, 280, 389, 584),
}
# How far a line of text reaches above and below its baseline, in em (Arial's line metrics).
ASCENT, DESCENT = 0.905, 0.212

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # left, top, right, bottom


def text_width(text: str, size: float, bold: bool = False) -> float:
    """How wide `text` is in Helvetica at `size` px.

    A character outside ASCII counts a full em (wider than any Latin glyph), so that a name in
    another script widens its box rather than overflowing it.
    """
    widths = _WIDTHS[bold]
    return size / 1000 * sum(widths[ord(c) - 32] if " " <= c <= "~" else 1000 for c in text)


@dataclass
class Text:
    """A line of text, centred on `x`, its baseline at `y`."""

    text: str
    x: float
    y: float
    size: float = FONT_SIZE
    bold: bool = False

    def box(self) -> Box:
        half = text_width(self.text, self.size, self.bold) / 2
        return (self.x - half, self.y - ASCENT * self.size, self.x + half,
                self.y + DESCENT * self.size)


@dataclass
class Node:
    """A box: a state (its name and a detail line), or the Start/End marker (`terminal`)."""

    key: str
    label: str
    detail: str = ""
    status: str | None = None
    terminal: bool = False
    layer: int = 0
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = NODE_HEIGHT

    def lines(self) -> list[Text]:
        """The name in bold, the detail below it in small type, centred in the box."""
        cx, cy = self.x + self.w / 2, self.y + self.h / 2
        if not self.detail:
            return [Text(self.label, cx, cy + 4, bold=True)]
        return [Text(self.label, cx, cy - 4, bold=True),
                Text(self.detail, cx, cy + 12, SMALL_FONT_SIZE)]


@dataclass
class Edge:
    source: str
    target: str
    label: str = ""
    kind: str = "next"  # next | choice | default | catch


@dataclass
class Route:
    """An edge as drawn: a cubic Bézier curve, and its caption somewhere along it."""

    edge: Edge
    points: tuple[Point, Point, Point, Point]
    caption: Text | None


@dataclass
class Layout:
    nodes: dict[str, Node] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    width: float = 0
    height: float = 0


def arrange(nodes: list[Node], edges: list[Edge], portrait: bool) -> Layout:
    """Size, layer and place the boxes, route the edges, and fit the canvas around them all.

    The layers run from the node keyed START (top, or left in landscape) to the one keyed END.
    """
    lay = Layout(nodes={node.key: node for node in nodes})
    for node in nodes:
        text = max(text_width(line.text, line.size, line.bold) for line in node.lines())
        node.w = max(text + 2 * NODE_PADDING, MIN_NODE_WIDTH)
        node.h = TERMINAL_HEIGHT if node.terminal else NODE_HEIGHT
    layers = _layers(lay.nodes, edges)
    (_place_portrait if portrait else _place_landscape)(layers, edges)
    lay.routes = _routes(lay.nodes, edges, portrait)
    left, top, right, bottom = _bounds(lay)
    # Move everything so that the leftmost and topmost drawing sits one margin in.
    for node in nodes:
        node.x += MARGIN - left
        node.y += MARGIN - top
    lay.routes = _routes(lay.nodes, edges, portrait)
    lay.width = math.ceil(right - left + 2 * MARGIN)
    lay.height = math.ceil(bottom - top + 2 * MARGIN)
    return lay


def bezier(points: tuple[Point, Point, Point, Point], t: float) -> Point:
    """The point at `t` (0 to 1) of a cubic Bézier curve."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    u = 1 - t
    return (u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
            u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3)


def curve(points: tuple[Point, Point, Point, Point], segments: int = 24) -> list[Point]:
    """A Bézier curve as a polyline of `segments` straight pieces."""
    return [bezier(points, i / segments) for i in range(segments + 1)]


def _layers(nodes: dict[str, Node], edges: list[Edge]) -> dict[int, list[Node]]:
    """Breadth-first distance from START; nodes never reached below it, END below everything."""
    layer_of = {START: 0}
    queue = [START]
    for key in queue:
        for edge in edges:
            if edge.source == key and edge.target not in layer_of and edge.target != END:
                layer_of[edge.target] = layer_of[key] + 1
                queue.append(edge.target)
    for key in nodes:
        if key != END:
            layer_of.setdefault(key, max(layer_of.values()) + 1)
    layer_of[END] = max(layer_of.values()) + 1
    layers: dict[int, list[Node]] = {}
    for key, node in nodes.items():
        node.layer = layer_of[key]
        layers.setdefault(node.layer, []).append(node)
    return dict(sorted(layers.items()))


def _gaps(row: list[Node], edges: list[Edge], portrait: bool) -> list[float]:
    """The space after each box of a layer but the last: more than NODE_GAP where an edge
    between it and the next box has a caption to fit in."""
    gaps = []
    for a, b in itertools.pairwise(row):
        captions = [e.label for e in edges if {e.source, e.target} == {a.key, b.key} and e.label]
        room = [text_width(c, SMALL_FONT_SIZE) if portrait
                else (ASCENT + DESCENT) * SMALL_FONT_SIZE + CAPTION_RISE for c in captions]
        gaps.append(max([NODE_GAP, *(r + 2 * CAPTION_PADDING for r in room)]))
    return gaps


def _place_portrait(layers: dict[int, list[Node]], edges: list[Edge]) -> None:
    """Layers top to bottom, each centred on the widest."""
    gaps = {i: _gaps(row, edges, portrait=True) for i, row in layers.items()}
    widths = {i: sum(n.w for n in row) + sum(gaps[i]) for i, row in layers.items()}
    widest = max(widths.values())
    y = 0.0
    for i, row in layers.items():
        x = (widest - widths[i]) / 2
        for node, gap in zip(row, [*gaps[i], 0], strict=True):
            node.x, node.y = x, y + (NODE_HEIGHT - node.h) / 2
            x += node.w + gap
        y += NODE_HEIGHT + LAYER_GAP


def _place_landscape(layers: dict[int, list[Node]], edges: list[Edge]) -> None:
    """Layers left to right, each centred on the tallest, each box centred in its column.

    The space between two columns fits the widest caption of an edge from one to the next, and
    half of any caption wider than its column on an edge within either (it sticks out both
    sides).
    """
    gaps = {i: _gaps(row, edges, portrait=False) for i, row in layers.items()}
    heights = {i: sum(n.h for n in row) + sum(gaps[i]) for i, row in layers.items()}
    tallest = max(heights.values())
    columns = {i: max(n.w for n in row) for i, row in layers.items()}
    layer_of = {n.key: i for i, row in layers.items() for n in row}

    def caption(edge: Edge) -> float:
        return text_width(edge.label, SMALL_FONT_SIZE) + 2 * CAPTION_PADDING if edge.label else 0

    overhang = {i: max([0, *((caption(e) - columns[i]) / 2 for e in edges
                             if layer_of[e.source] == layer_of[e.target] == i)])
                for i in layers}
    x = 0.0
    for i, row in layers.items():
        y = (tallest - heights[i]) / 2
        for node, gap in zip(row, [*gaps[i], 0], strict=True):
            node.x, node.y = x + (columns[i] - node.w) / 2, y
            y += node.h + gap
        across = [caption(e) for e in edges
                  if layer_of[e.source] == i and layer_of[e.target] == i + 1]
        sideways = overhang[i] + overhang.get(i + 1, 0) + 2 * CAPTION_PADDING
        x += columns[i] + max([LAYER_GAP + CAPTION_ROOM, sideways, *across])


def _routes(nodes: dict[str, Node], edges: list[Edge], portrait: bool) -> list[Route]:
    taken = [(n.x, n.y, n.x + n.w, n.y + n.h) for n in nodes.values()]
    routes = []
    for edge in edges:
        points = _edge_points(nodes[edge.source], nodes[edge.target], list(nodes.values()),
                              portrait)
        caption = None
        if edge.label:
            caption = _caption(edge.label, points, taken)
            taken.append(caption.box())
        routes.append(Route(edge, points, caption))
    return routes


def _caption(label: str, points: tuple[Point, Point, Point, Point],
             taken: list[Box]) -> Text:
    """The caption just above the first spot along its curve where it covers no box and no
    caption placed before it; the middle of the curve if there is no such spot."""
    spots = [Text(label, x, y - CAPTION_RISE, SMALL_FONT_SIZE)
             for x, y in (bezier(points, t) for t in CAPTION_SPOTS)]
    return next((spot for spot in spots if not any(_overlap(spot.box(), box) for box in taken)),
                spots[0])


def _overlap(a: Box, b: Box) -> bool:
    pad = CAPTION_PADDING / 2
    return a[0] < b[2] + pad and b[0] < a[2] + pad and a[1] < b[3] + pad and b[1] < a[3] + pad


def _edge_points(a: Node, b: Node, nodes: list[Node],
                 portrait: bool) -> tuple[Point, Point, Point, Point]:
    """The control points of the curve from `a` to `b`.

    An edge to a later layer leaves the bottom of its box for the top of the next (right and
    left, in landscape); within a layer it runs straight between the facing sides; back to an
    earlier layer (or to itself) it bends around the right (the bottom, in landscape), past
    every box of the layers it spans.
    """
    if not portrait:  # the portrait drawing, mirrored along the diagonal
        p0, p1, p2, p3 = _edge_points(_transposed(a), _transposed(b),
                                      [_transposed(n) for n in nodes], True)
        return p0[::-1], p1[::-1], p2[::-1], p3[::-1]
    if b.layer > a.layer:
        p0, p3 = (a.x + a.w / 2, a.y + a.h), (b.x + b.w / 2, b.y)
        bend = (p3[1] - p0[1]) / 2
        return p0, (p0[0], p0[1] + bend), (p3[0], p3[1] - bend), p3
    if b.layer == a.layer and b is not a:
        ya, yb = a.y + a.h / 2, b.y + b.h / 2
        p0, p3 = ((a.x + a.w, ya), (b.x, yb)) if b.x > a.x else ((a.x, ya), (b.x + b.w, yb))
        return p0, _lerp(p0, p3, 1 / 3), _lerp(p0, p3, 2 / 3), p3
    p0, p3 = (a.x + a.w, a.y + a.h / 2), (b.x + b.w, b.y + b.h / 2)
    reach = max(n.x + n.w for n in nodes if b.layer <= n.layer <= a.layer) + LOOP_REACH
    return p0, (reach, p0[1]), (reach, p3[1]), p3


def _transposed(node: Node) -> Node:
    return replace(node, x=node.y, y=node.x, w=node.h, h=node.w)


def _lerp(p: Point, q: Point, t: float) -> Point:
    return p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t


def _bounds(lay: Layout) -> Box:
    """The box around every node, curve and line of text."""

    def boxes() -> Iterator[Box]:
        for node in lay.nodes.values():
            yield node.x, node.y, node.x + node.w, node.y + node.h
            yield from (line.box() for line in node.lines())
        for route in lay.routes:
            xs, ys = zip(*curve(route.points, 32), strict=True)
            yield min(xs), min(ys), max(xs), max(ys)
            if route.caption is not None:
                yield route.caption.box()

    left, top, right, bottom = zip(*boxes(), strict=True)
    return min(left), min(top), max(right), max(bottom)
