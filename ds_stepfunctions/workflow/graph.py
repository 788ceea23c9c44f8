"""Pictures of a state machine, with no network and no JavaScript.

The old SDK drew graphs with a JavaScript library fetched from a CDN, in classic Jupyter only.
`WorkflowGraph` draws from the ASL definition alone (so an attached workflow draws too) as:
Mermaid text (`to_mermaid`), an SVG laid out here (`to_svg`), a PNG of the same layout
(`to_png`, with Pillow), a rich tree for a terminal (`__rich__`), and `_repr_html_`/`_repr_svg_`
for notebooks. With statuses (`render_progress`) each state is coloured by how far it got.

This module reads the definition (states, edges, and a short text for each Choice rule) and
draws; layout.py decides where everything goes, the same for the SVG and the PNG.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ds_stepfunctions.workflow.layout import (
    END,
    FONT_SIZE,
    START,
    Edge,
    Layout,
    Node,
    Point,
    Route,
    Text,
    arrange,
    curve,
    text_width,
)

# Status -> (fill, stroke): the Step Functions console's colours.
STATUS_COLOURS = {
    "NotStarted": ("#f4f4f4", "#8d8d8d"),
    "InProgress": ("#d6e8fb", "#0972d3"),
    "Succeeded": ("#d8f5d0", "#037f0c"),
    "Failed": ("#fde2e2", "#d91515"),
    "Caught": ("#fdebd0", "#c45500"),
}
CATCH_COLOUR, EDGE_COLOUR, DETAIL_COLOUR = "#c45500", "#545b64", "#545b64"
# The SVG's fonts: Helvetica, or a font with its widths (layout.py measures the text with them).
FONT_FAMILY = "Helvetica, Arial, 'Liberation Sans', 'Nimbus Sans', sans-serif"


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
        """Where every box, curve and line of text goes (the SVG and the PNG draw it)."""
        states = self.definition["States"]
        nodes = [Node(START, "Start", terminal=True)]
        edges = [Edge(START, self.definition["StartAt"])]
        for name in _reachable(self.definition):
            state = states[name]
            nodes.append(Node(name, name, _detail(state), self.statuses.get(name)))
            edges += _state_edges(name, state)
            if _is_terminal(state):
                edges.append(Edge(name, END))
        nodes.append(Node(END, "End", terminal=True))
        return arrange(nodes, edges, self.portrait)

    def to_svg(self) -> str:
        """An SVG of the graph, self-contained (no script, no external font or link)."""
        lay = self.layout()
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{lay.width:.0f}" '
               f'height="{lay.height:.0f}" viewBox="0 0 {lay.width:.0f} {lay.height:.0f}" '
               f'font-family="{FONT_FAMILY}" font-size="{FONT_SIZE}">',
               f"<title>{html.escape(self.title or 'state machine')}</title>",
               '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
               'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
               f'<path d="M0,0 L10,5 L0,10 z" fill="{EDGE_COLOUR}"/></marker></defs>']
        for route in lay.routes:
            kind = route.edge.kind
            dash = ' stroke-dasharray="5,4"' if kind in ("default", "catch") else ""
            path = "M{:.1f},{:.1f} C{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}".format(
                *(c for p in route.points for c in p))
            out.append(f'<path d="{path}" fill="none" stroke="{_edge_colour(route)}" '
                       f'stroke-width="1.4"{dash} marker-end="url(#arrow)"/>')
        for node in lay.nodes.values():
            fill, stroke = STATUS_COLOURS[node.status or "NotStarted"]
            radius = node.h / 2 if node.terminal else 6
            status = f" ({node.status})" if node.status else ""
            out.append(f'<g class="state" data-state="{html.escape(node.label)}">'
                       f"<title>{html.escape(node.label + status)}</title>"
                       f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.w:.1f}" '
                       f'height="{node.h:.1f}" rx="{radius:.1f}" fill="{fill}" '
                       f'stroke="{stroke}" stroke-width="1.5"/>')
            out += [_svg_text(line, None if line.bold else DETAIL_COLOUR)
                    for line in node.lines()]
            out.append("</g>")
        # The captions last, over every curve and box, each on a white halo: a line crossing one
        # stays clear of its letters.
        out += [_svg_text(route.caption, _edge_colour(route), halo=True)
                for route in lay.routes if route.caption is not None]
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def to_png(self, scale: float = 2.0) -> bytes:
        """A PNG of the same layout, drawn with Pillow (its own font: no bold, about
        Helvetica's widths)."""
        from PIL import Image, ImageDraw, ImageFont

        lay = self.layout()
        image = Image.new("RGB", (int(lay.width * scale), int(lay.height * scale)), "white")
        draw = ImageDraw.Draw(image)

        def write(text: Text, colour: str, halo: bool = False) -> None:
            # Pillow's font runs a few per cent wider than Helvetica on some text: such a line
            # is drawn that much smaller, to keep to the room the layout measured for it.
            size = text.size * scale
            drawn = ImageFont.load_default(size=size).getlength(text.text)
            room = text_width(text.text, size, text.bold)
            font = ImageFont.load_default(size=size * min(1.0, room / drawn) if drawn else size)
            draw.text((text.x * scale, text.y * scale), text.text, fill=colour, font=font,
                      anchor="ms", stroke_width=int(1.5 * scale) if halo else 0,
                      stroke_fill="white")

        for route in lay.routes:
            line = [(x * scale, y * scale) for x, y in curve(route.points)]
            draw.line(line, fill=_edge_colour(route), width=max(1, int(1.4 * scale)))
            _arrowhead(draw, line[-2], line[-1], _edge_colour(route), 6 * scale)
        for node in lay.nodes.values():
            fill, stroke = STATUS_COLOURS[node.status or "NotStarted"]
            box = [node.x * scale, node.y * scale, (node.x + node.w) * scale,
                   (node.y + node.h) * scale]
            radius = (node.h / 2 if node.terminal else 6) * scale
            draw.rounded_rectangle(box, radius=radius, fill=fill, outline=stroke,
                                   width=int(1.5 * scale))
            for text in node.lines():
                write(text, "black" if text.bold else DETAIL_COLOUR)
        for route in lay.routes:
            if route.caption is not None:
                write(route.caption, _edge_colour(route), halo=True)
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
            caught = failed_by.get(event.get("previousEventId", 0))  # event ids start at 1
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


# ASL's comparison operators as symbols, the longest suffix first (LessThanEquals before LessThan).
_OPERATOR_SYMBOLS = (("GreaterThanEquals", ">="), ("LessThanEquals", "<="), ("GreaterThan", ">"),
                     ("LessThan", "<"), ("Equals", "=="))


def _rule_text(rule: Mapping[str, Any]) -> str:
    """A short reading of a choice rule: `$['rmse'] <= 50`, `not (...)`, `(a) and (b)`.

    A literal is shown as JSON (a string in quotes); the operand of a `...Path` operator is a
    path, shown as it is: `$['Value'] <= $['Threshold']`.
    """
    for compound in ("And", "Or"):
        if compound in rule:
            return f" {compound.lower()} ".join(f"({_rule_text(r)})" for r in rule[compound])
    if "Not" in rule:
        return f"not ({_rule_text(rule['Not'])})"
    for key, value in rule.items():
        if key in ("Variable", "Next"):
            continue
        operand = value if key.endswith("Path") else json.dumps(value)
        operator = key.removesuffix("Path")
        symbol = next((symbol for suffix, symbol in _OPERATOR_SYMBOLS
                       if operator.endswith(suffix) and not operator.startswith("Is")), key)
        return f"{rule.get('Variable', '')} {symbol} {operand}"
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


# Drawing

def _edge_colour(route: Route) -> str:
    return CATCH_COLOUR if route.edge.kind == "catch" else EDGE_COLOUR


def _svg_text(text: Text, colour: str | None, halo: bool = False) -> str:
    style = ' font-weight="bold"' if text.bold else ""
    if text.size != FONT_SIZE:
        style += f' font-size="{text.size:g}"'
    if colour is not None:
        style += f' fill="{colour}"'
    if halo:
        style += ' stroke="white" stroke-width="3" stroke-linejoin="round" paint-order="stroke"'
    return (f'<text x="{text.x:.1f}" y="{text.y:.1f}" text-anchor="middle"{style}>'
            f"{html.escape(text.text)}</text>")


def _arrowhead(draw: Any, tail: Point, tip: Point, colour: str, size: float) -> None:
    dx, dy = tip[0] - tail[0], tip[1] - tail[1]
    length = (dx * dx + dy * dy) ** 0.5 or 1
    ux, uy = dx / length, dy / length
    left = (tip[0] - size * ux + size * 0.5 * uy, tip[1] - size * uy - size * 0.5 * ux)
    right = (tip[0] - size * ux - size * 0.5 * uy, tip[1] - size * uy + size * 0.5 * ux)
    draw.polygon([tip, left, right], fill=colour)
