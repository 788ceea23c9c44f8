"""Pictures of a state machine, with no network and no JavaScript.

The old SDK drew graphs with a JavaScript library fetched from a CDN, in classic Jupyter only.
`WorkflowGraph` draws from the ASL definition alone (so an attached workflow draws too) as:
Mermaid text (`to_mermaid`), an SVG laid out here (`to_svg`), a PNG of the same layout
(`to_png`, with Pillow), a rich tree for a terminal (`__rich__`), and `_repr_html_`/`_repr_svg_`
for notebooks. With statuses (`render_progress`) each state is coloured by how far it got.

The layout is layered: a state's layer is its distance from StartAt, its place in the layer the
order it was reached; an edge to an earlier layer (a retry loop) bends around the side.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Status -> (fill, stroke): the Step Functions console's colours.
STATUS_COLOURS = {
    "NotStarted": ("#f4f4f4", "#8d8d8d"),
    "InProgress": ("#d6e8fb", "#0972d3"),
    "Succeeded": ("#d8f5d0", "#037f0c"),
    "Failed": ("#fde2e2", "#d91515"),
    "Caught": ("#fdebd0", "#c45500"),
}
FONT_SIZE = 13
CHAR_WIDTH = 7.4  # average advance of a 13 px sans-serif character
NODE_HEIGHT = 44
LAYER_GAP = 56
NODE_GAP = 28
MARGIN = 24


@dataclass
class Node:
    key: str
    label: str
    detail: str
    status: str | None = None
    layer: int = 0
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = NODE_HEIGHT
    terminal: bool = False  # Start/End markers


@dataclass
class Edge:
    source: str
    target: str
    label: str = ""
    kind: str = "next"  # next | choice | default | catch


@dataclass
class Layout:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    width: float = 0
    height: float = 0


class WorkflowGraph:
    """A state machine's picture; `statuses` ({state name: status}) colours an execution's."""

    def __init__(self, definition: Mapping[str, Any], statuses: Mapping[str, str] | None = None,
                 portrait: bool = True, title: str = "") -> None:
        self.definition = definition
        self.statuses = dict(statuses or {})
        self.portrait = portrait
        self.title = title

    # Mermaid

    def to_mermaid(self) -> str:
        """A Mermaid flowchart (renders on GitHub, in JupyterLab's Markdown, in mermaid-cli)."""
        lines = [f"flowchart {'TD' if self.portrait else 'LR'}"]
        counter = iter(range(1_000_000))
        lines += _mermaid_graph(self.definition, "    ", counter, self.statuses)
        lines += [f"    classDef {status} fill:{fill},stroke:{stroke},color:#000"
                  for status, (fill, stroke) in STATUS_COLOURS.items()]
        return "\n".join(lines) + "\n"

    # SVG and PNG

    def layout(self) -> Layout:
        return _layout(self.definition, self.statuses, self.portrait)

    def to_svg(self) -> str:
        """An SVG of the graph, self-contained (no script, no external font or link)."""
        lay = self.layout()
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{lay.width:.0f}" '
               f'height="{lay.height:.0f}" viewBox="0 0 {lay.width:.0f} {lay.height:.0f}" '
               f'font-family="Helvetica, Arial, sans-serif" font-size="{FONT_SIZE}">',
               f"<title>{html.escape(self.title or 'state machine')}</title>",
               '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
               'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
               '<path d="M0,0 L10,5 L0,10 z" fill="#545b64"/></marker></defs>']
        for edge in lay.edges:
            points = _edge_points(lay, edge, self.portrait)
            dash = ' stroke-dasharray="5,4"' if edge.kind in ("default", "catch") else ""
            colour = "#c45500" if edge.kind == "catch" else "#545b64"
            path = "M{:.1f},{:.1f} C{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}".format(
                *(c for p in points for c in p))
            out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.4"'
                       f'{dash} marker-end="url(#arrow)"/>')
            if edge.label:
                mx, my = _bezier(points, 0.5)
                out.append(f'<text x="{mx:.1f}" y="{my - 4:.1f}" text-anchor="middle" '
                           f'font-size="11" fill="{colour}">{html.escape(edge.label)}</text>')
        for node in lay.nodes.values():
            fill, stroke = STATUS_COLOURS[node.status or "NotStarted"]
            radius = node.h / 2 if node.terminal else 6
            status = f" ({node.status})" if node.status else ""
            out.append(f'<g class="state" data-state="{html.escape(node.label)}">'
                       f"<title>{html.escape(node.label + status)}</title>"
                       f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.w:.1f}" '
                       f'height="{node.h:.1f}" rx="{radius:.1f}" fill="{fill}" '
                       f'stroke="{stroke}" stroke-width="1.5"/>')
            text_lines = [node.label, *([node.detail] if node.detail else [])]
            top = node.y + node.h / 2 - (len(text_lines) - 1) * 8 + 4
            for i, text in enumerate(text_lines):
                style = ' font-weight="bold"' if i == 0 else ' font-size="11" fill="#545b64"'
                out.append(f'<text x="{node.x + node.w / 2:.1f}" y="{top + i * 16:.1f}" '
                           f'text-anchor="middle"{style}>{html.escape(text)}</text>')
            out.append("</g>")
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def to_png(self, scale: float = 2.0) -> bytes:
        """A PNG of the same layout, drawn with Pillow."""
        from PIL import Image, ImageDraw, ImageFont

        lay = self.layout()
        image = Image.new("RGB", (int(lay.width * scale), int(lay.height * scale)), "white")
        draw = ImageDraw.Draw(image)
        font = ImageFont.load_default(size=FONT_SIZE * scale)
        small = ImageFont.load_default(size=11 * scale)
        for edge in lay.edges:
            points = _edge_points(lay, edge, self.portrait)
            curve = [(x * scale, y * scale) for x, y in
                     (_bezier(points, t / 24) for t in range(25))]
            colour = "#c45500" if edge.kind == "catch" else "#545b64"
            draw.line(curve, fill=colour, width=max(1, int(1.4 * scale)))
            _arrowhead(draw, curve[-2], curve[-1], colour, 6 * scale)
            if edge.label:
                mx, my = _bezier(points, 0.5)
                draw.text((mx * scale, (my - 4) * scale), edge.label, fill=colour, font=small,
                          anchor="ms")
        for node in lay.nodes.values():
            fill, stroke = STATUS_COLOURS[node.status or "NotStarted"]
            box = [node.x * scale, node.y * scale, (node.x + node.w) * scale,
                   (node.y + node.h) * scale]
            radius = (node.h / 2 if node.terminal else 6) * scale
            draw.rounded_rectangle(box, radius=radius, fill=fill, outline=stroke,
                                   width=int(1.5 * scale))
            cx, cy = (node.x + node.w / 2) * scale, (node.y + node.h / 2) * scale
            if node.detail:
                draw.text((cx, cy - 2 * scale), node.label, fill="black", font=font, anchor="ms")
                draw.text((cx, cy + 13 * scale), node.detail, fill="#545b64", font=small,
                          anchor="ms")
            else:
                draw.text((cx, cy), node.label, fill="black", font=font, anchor="mm")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    def save(self, path: str | Path) -> Path:
        """Write the picture; the format follows the suffix: .svg, .png, .mmd/.md or .html."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".png":
            path.write_bytes(self.to_png())
        elif suffix == ".svg":
            path.write_text(self.to_svg(), encoding="utf-8")
        elif suffix in (".mmd", ".md"):
            text = self.to_mermaid()
            path.write_text(f"```mermaid\n{text}```\n" if suffix == ".md" else text,
                            encoding="utf-8")
        elif suffix in (".html", ".htm"):
            path.write_text(f"<!doctype html><meta charset='utf-8'>{self._repr_html_()}",
                            encoding="utf-8")
        else:
            raise ValueError(f"Unknown picture format {path.suffix!r}: use .svg, .png, .mmd, "
                             ".md or .html")
        return path

    # Terminal and notebook

    def __rich__(self) -> Any:
        from rich.text import Text
        from rich.tree import Tree

        colours = {"InProgress": "blue", "Succeeded": "green", "Failed": "red",
                   "Caught": "dark_orange"}
        tree = Tree(Text(self.title or "State machine", style="bold"))
        shown: set[str] = set()

        def add(parent: Any, definition: Mapping[str, Any], name: str, via: str) -> None:
            state = definition["States"][name]
            status = self.statuses.get(name)
            label = Text(f"{via}{name}", style=colours.get(status or "", ""))
            label.append(f"  {state['Type']}", style="dim")
            if status:
                label.append(f"  {status}", style=colours.get(status, ""))
            if name in shown:
                parent.add(Text(f"{via}{name} ↑", style="dim"))
                return
            shown.add(name)
            node = parent.add(label)
            for branch in _branches(state):
                sub = node.add(Text(f"branch from {branch['StartAt']}", style="dim"))
                add(sub, branch, branch["StartAt"], "")
            for edge in _state_edges(name, state):
                add(node, definition, edge.target, f"[{edge.label}] " if edge.label else "")

        add(tree, self.definition, self.definition["StartAt"], "")
        return tree

    def __str__(self) -> str:
        return self.to_mermaid()

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def _repr_html_(self) -> str:
        legend = ""
        if self.statuses:
            legend = "<div style='font:12px sans-serif;margin-top:6px'>" + " ".join(
                f"<span style='background:{fill};border:1px solid {stroke};padding:1px 6px;"
                f"margin-right:4px'>{status}</span>"
                for status, (fill, stroke) in STATUS_COLOURS.items()) + "</div>"
        return f"<div>{self.to_svg()}{legend}</div>"

    def _repr_markdown_(self) -> str:
        return f"```mermaid\n{self.to_mermaid()}```"


def state_statuses(events: list[Mapping[str, Any]]) -> dict[str, str]:
    """Each state's status from GetExecutionHistory events (the console's colours).

    An event belongs to the state whose `...StateEntered` event its `previousEventId` chain
    leads back to. A state whose failure was followed by another state's entry (its Catch) is
    `Caught`; one scheduled again after a failure (its Retry) is back `InProgress`.
    """
    by_id = {e["id"]: e for e in events}
    statuses: dict[str, str] = {}
    failed_by: dict[int, str] = {}  # failure event id -> state

    def owner(event: Mapping[str, Any] | None) -> str | None:
        seen = set()
        while event is not None and event["id"] not in seen:
            seen.add(event["id"])
            if event["type"].endswith("StateEntered"):
                return event["stateEnteredEventDetails"]["name"]
            event = by_id.get(event.get("previousEventId"))
        return None

    for event in sorted(events, key=lambda e: e["id"]):
        kind = event["type"]
        if kind.endswith("StateEntered"):
            caught = failed_by.get(event.get("previousEventId"))
            if caught is not None:
                statuses[caught] = "Caught"
            statuses[event["stateEnteredEventDetails"]["name"]] = "InProgress"
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            statuses[name] = "Caught" if statuses.get(name) == "Failed" else "Succeeded"
        elif kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            for name, status in statuses.items():
                if status == "InProgress":
                    statuses[name] = "Failed"
        elif not kind.startswith("Execution") and (name := owner(event)) is not None:
            if kind.endswith(("Failed", "TimedOut", "Aborted")):
                statuses[name] = "Failed"
                failed_by[event["id"]] = name
            elif kind.endswith(("Scheduled", "Started", "Submitted")):
                statuses[name] = "InProgress"
    return statuses


# Reading the definition

def _branches(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if state["Type"] == "Parallel":
        return list(state.get("Branches", []))
    if state["Type"] == "Map":
        inner = state.get("ItemProcessor") or state.get("Iterator")
        return [inner] if inner else []
    return []


def _state_edges(name: str, state: Mapping[str, Any]) -> Iterator[Edge]:
    for i, choice in enumerate(state.get("Choices", [])):
        yield Edge(name, choice["Next"], _rule_text(choice) or f"rule {i + 1}", "choice")
    if "Default" in state:
        yield Edge(name, state["Default"], "Default", "default")
    if "Next" in state:
        yield Edge(name, state["Next"])
    for catch in state.get("Catch", []):
        yield Edge(name, catch["Next"], "Catch " + ", ".join(catch["ErrorEquals"]), "catch")


_OPERATOR_SYMBOLS = {"Equals": "==", "LessThan": "<", "GreaterThan": ">",
                     "LessThanEquals": "<=", "GreaterThanEquals": ">="}


def _rule_text(rule: Mapping[str, Any]) -> str:
    """A short reading of a choice rule: `$['rmse'] <= 50`, `not (...)`, `a and b`."""
    for compound in ("And", "Or"):
        if compound in rule:
            return f" {compound.lower()} ".join(f"({_rule_text(r)})" for r in rule[compound])
    if "Not" in rule:
        return f"not ({_rule_text(rule['Not'])})"
    for key, value in rule.items():
        if key in ("Variable", "Next"):
            continue
        operator = key.removesuffix("Path")
        for suffix, symbol in sorted(_OPERATOR_SYMBOLS.items(), key=lambda kv: -len(kv[0])):
            if operator.endswith(suffix) and not operator.startswith("Is"):
                return f"{rule.get('Variable', '')} {symbol} {json.dumps(value)}"
        return f"{rule.get('Variable', '')} {key} {json.dumps(value)}"
    return ""


def _detail(state: Mapping[str, Any]) -> str:
    if state["Type"] == "Task":
        resource = str(state.get("Resource", ""))
        return resource.rsplit(":::", 1)[-1] if ":::" in resource else resource.rsplit(":", 1)[-1]
    if state["Type"] in ("Parallel", "Map"):
        branches = _branches(state)
        inner = [n for b in branches for n in b.get("States", {})]
        return f"{state['Type']}: " + ", ".join(inner)
    return state["Type"]


def _is_terminal(state: Mapping[str, Any]) -> bool:
    return state.get("End") is True or state["Type"] in ("Succeed", "Fail")


def _reachable(definition: Mapping[str, Any]) -> list[str]:
    """States in breadth-first order from StartAt, then any the edges never reach."""
    states = definition["States"]
    order = [definition["StartAt"]]
    for name in order:
        for edge in _state_edges(name, states[name]):
            if edge.target not in order and edge.target in states:
                order.append(edge.target)
    return order + [n for n in states if n not in order]


# Mermaid

def _mermaid_text(text: str) -> str:
    return html.escape(text).replace("|", "#124;")


def _mermaid_graph(definition: Mapping[str, Any], indent: str, counter: Iterator[int],
                   statuses: Mapping[str, str]) -> list[str]:
    states = definition["States"]
    ids = {name: f"s{next(counter)}" for name in _reachable(definition)}
    start, end = f"start{next(counter)}", f"end{next(counter)}"
    lines = [f'{indent}{start}(["Start"])', f"{indent}{start} --> {ids[definition['StartAt']]}"]
    for name in ids:
        state = states[name]
        node = ids[name]
        label = f"{_mermaid_text(name)}<br/><small>{_mermaid_text(_detail(state))}</small>"
        if _branches(state):
            lines.append(f'{indent}subgraph {node} ["{label}"]')
            for i, branch in enumerate(_branches(state)):
                lines.append(f"{indent}    subgraph {node}b{i} [\" \"]")
                lines += _mermaid_graph(branch, indent + "        ", counter, statuses)
                lines.append(f"{indent}    end")
            lines.append(f"{indent}end")
        elif state["Type"] == "Choice":
            lines.append(f'{indent}{node}{{"{label}"}}')
        else:
            lines.append(f'{indent}{node}["{label}"]')
        if name in statuses:
            lines.append(f"{indent}class {node} {statuses[name]}")
        for edge in _state_edges(name, state):
            arrow = "-.->" if edge.kind in ("default", "catch") else "-->"
            text = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
            lines.append(f"{indent}{node} {arrow}{text} {ids[edge.target]}")
        if _is_terminal(state):
            lines.append(f"{indent}{node} --> {end}")
    lines.append(f'{indent}{end}(["End"])')
    return lines


# Layout

def _layout(definition: Mapping[str, Any], statuses: Mapping[str, str],
            portrait: bool) -> Layout:
    states = definition["States"]
    lay = Layout()
    lay.nodes["__start__"] = Node("__start__", "Start", "", terminal=True)
    lay.edges.append(Edge("__start__", definition["StartAt"]))
    for name in _reachable(definition):
        state = states[name]
        lay.nodes[name] = Node(name, name, _detail(state), statuses.get(name))
        lay.edges += list(_state_edges(name, state))
        if _is_terminal(state):
            lay.edges.append(Edge(name, "__end__"))
    lay.nodes["__end__"] = Node("__end__", "End", "", terminal=True)
    for node in lay.nodes.values():
        node.w = max(len(node.label) * CHAR_WIDTH, len(node.detail) * CHAR_WIDTH * 0.85) + 32
        node.w = max(node.w, 80)
        node.h = 32 if node.terminal else NODE_HEIGHT

    # layers: breadth-first distance from Start; End below everything
    layer_of = {"__start__": 0}
    queue = ["__start__"]
    for key in queue:
        for edge in lay.edges:
            if edge.source == key and edge.target not in layer_of and edge.target != "__end__":
                layer_of[edge.target] = layer_of[key] + 1
                queue.append(edge.target)
    for key in lay.nodes:
        layer_of.setdefault(key, max(layer_of.values()) + 1)
    layer_of["__end__"] = max(v for k, v in layer_of.items() if k != "__end__") + 1
    layers: dict[int, list[Node]] = {}
    for key, node in lay.nodes.items():
        node.layer = layer_of[key]
        layers.setdefault(node.layer, []).append(node)

    if portrait:  # layers top to bottom, each centred
        widths = {i: sum(n.w for n in row) + NODE_GAP * (len(row) - 1)
                  for i, row in layers.items()}
        total = max(widths.values())
        y = MARGIN
        for i in sorted(layers):
            x = MARGIN + (total - widths[i]) / 2
            for node in layers[i]:
                node.x, node.y = x, y + (NODE_HEIGHT - node.h) / 2
                x += node.w + NODE_GAP
            y += NODE_HEIGHT + LAYER_GAP
        lay.width, lay.height = total + 2 * MARGIN, y - LAYER_GAP + MARGIN
    else:  # layers left to right, each centred vertically
        heights = {i: sum(n.h for n in row) + NODE_GAP * (len(row) - 1)
                   for i, row in layers.items()}
        total = max(heights.values())
        x = MARGIN
        for i in sorted(layers):
            column = max(n.w for n in layers[i])
            y = MARGIN + (total - heights[i]) / 2
            for node in layers[i]:
                node.x, node.y = x + (column - node.w) / 2, y
                y += node.h + NODE_GAP
            x += column + LAYER_GAP + 40
        lay.width, lay.height = x - LAYER_GAP - 40 + MARGIN, total + 2 * MARGIN
    return lay


def _edge_points(lay: Layout, edge: Edge,
                 portrait: bool) -> tuple[tuple[float, float], ...]:
    """The cubic Bézier control points of an edge; edges going back bend around the right."""
    a, b = lay.nodes[edge.source], lay.nodes[edge.target]
    if portrait:
        if b.layer > a.layer:
            p0, p3 = (a.x + a.w / 2, a.y + a.h), (b.x + b.w / 2, b.y)
            bend = (p3[1] - p0[1]) / 2
            return p0, (p0[0], p0[1] + bend), (p3[0], p3[1] - bend), p3
        p0, p3 = (a.x + a.w, a.y + a.h / 2), (b.x + b.w, b.y + b.h / 2)
        reach = max(p0[0], p3[0]) + 60
        return p0, (reach, p0[1]), (reach, p3[1]), p3
    if b.layer > a.layer:
        p0, p3 = (a.x + a.w, a.y + a.h / 2), (b.x, b.y + b.h / 2)
        bend = (p3[0] - p0[0]) / 2
        return p0, (p0[0] + bend, p0[1]), (p3[0] - bend, p3[1]), p3
    p0, p3 = (a.x + a.w / 2, a.y + a.h), (b.x + b.w / 2, b.y + b.h)
    reach = max(p0[1], p3[1]) + 50
    return p0, (p0[0], reach), (p3[0], reach), p3


def _bezier(points: tuple[tuple[float, float], ...], t: float) -> tuple[float, float]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    u = 1 - t
    return (u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
            u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3)


def _arrowhead(draw: Any, tail: tuple[float, float], tip: tuple[float, float], colour: str,
               size: float) -> None:
    dx, dy = tip[0] - tail[0], tip[1] - tail[1]
    length = (dx * dx + dy * dy) ** 0.5 or 1
    ux, uy = dx / length, dy / length
    left = (tip[0] - size * ux + size * 0.5 * uy, tip[1] - size * uy - size * 0.5 * ux)
    right = (tip[0] - size * ux - size * 0.5 * uy, tip[1] - size * uy + size * 0.5 * ux)
    draw.polygon([tip, left, right], fill=colour)
