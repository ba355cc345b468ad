"""A layered drawing of the mechanism map, computed on the server and drawn as SVG. Pure.

Mechanisms flow left to right: each sits one column right of the furthest mechanism that
feeds it. Links that close a loop (a later mechanism feeding an earlier one) are drawn
as arcs under the map and do not push anything right. Within a column, mechanisms are
ordered by the average row of their neighbours (a few up-and-down sweeps), which keeps
crossings down on maps of this size."""

from __future__ import annotations

import textwrap
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

NODE_W, NODE_H = 204, 122
GAP_Y = 36
MIN_GAP_X = 72
LABEL_CHARS = 14  # an edge label wraps at this many characters, on at most two lines
CHAR_W = 6.9  # generous average width of a label character at 11px
MARGIN = 24
LOOP_SPACE = 34  # room under the map for each arc that closes a loop


@dataclass
class Node:
    id: int
    name: str
    layer: int = 0
    row: float = 0.0
    x: float = 0.0
    y: float = 0.0
    lines: list[str] = field(default_factory=list)

    @property
    def cx(self) -> float:
        return self.x + NODE_W / 2


@dataclass
class Edge:
    source: int
    target: int
    label: str = ""
    back: bool = False  # closes a loop: drawn as an arc under the map
    path: str = ""
    label_x: float = 0.0
    label_y: float = 0.0
    label_w: float = 0.0
    label_lines: list[str] = field(default_factory=list)


@dataclass
class Layout:
    nodes: dict[int, Node]
    edges: list[Edge]
    width: float
    height: float


def _back_edges(ids: Sequence[int], edges: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """Edges that close a cycle, found by a depth-first walk started from each mechanism in
    the given order (the oldest first): a loop is drawn as starting at its first mechanism."""
    out: dict[int, list[int]] = defaultdict(list)
    for s, t in edges:
        out[s].append(t)
    state: dict[int, int] = {}  # 1 on the current path, 2 done
    back: set[tuple[int, int]] = set()
    for start in ids:
        if start in state:
            continue
        stack = [(start, iter(out[start]))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                back.add((node, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(out[child])))
    return back


def _wrap(name: str, width: int = 24, lines: int = 2) -> list[str]:
    wrapped = textwrap.wrap(name, width) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: width - 1].rstrip() + "…"
    return wrapped


def layout(names: dict[int, str], links: Sequence[tuple[int, int, str]]) -> Layout:
    """Positions for every mechanism in `names` (id → name, in the order to prefer) and an SVG
    path for every link (source id, target id, label)."""
    ids = list(names)
    pairs = [(s, t) for s, t, _ in links if s in names and t in names and s != t]
    back = _back_edges(ids, pairs)
    forward = [(s, t) for s, t in pairs if (s, t) not in back]

    # Columns: the longest chain of forward links that leads to each mechanism.
    preds: dict[int, list[int]] = defaultdict(list)
    succs: dict[int, list[int]] = defaultdict(list)
    for s, t in forward:
        preds[t].append(s)
        succs[s].append(t)
    layer: dict[int, int] = {}
    pending = {i: len(preds[i]) for i in ids}
    queue = [i for i in ids if pending[i] == 0]
    while queue:
        node = queue.pop(0)
        layer[node] = max((layer[p] + 1 for p in preds[node]), default=0)
        for t in succs[node]:
            pending[t] -= 1
            if pending[t] == 0:
                queue.append(t)

    columns: dict[int, list[int]] = defaultdict(list)
    for i in ids:
        columns[layer[i]].append(i)
    # Rows: barycentre sweeps, left to right then right to left.
    position = {i: float(n) for col in columns.values() for n, i in enumerate(col)}
    for sweep in range(4):
        order = sorted(columns) if sweep % 2 == 0 else sorted(columns, reverse=True)
        for c in order:
            neighbours = preds if sweep % 2 == 0 else succs

            def weight(i: int, neighbours=neighbours) -> tuple[float, float]:
                near = [position[n] for n in neighbours[i]]
                return (sum(near) / len(near) if near else position[i], position[i])

            columns[c].sort(key=weight)
            for n, i in enumerate(columns[c]):
                position[i] = float(n)

    label_lines = {(s, t): _wrap(label, LABEL_CHARS) if label else [] for s, t, label in links}
    widest = max((len(line) for lines in label_lines.values() for line in lines), default=0)
    gap_x = max(MIN_GAP_X, round(widest * CHAR_W + 28))  # room for the widest label
    tallest = max((len(col) for col in columns.values()), default=0)
    nodes: dict[int, Node] = {}
    for c, col in columns.items():
        offset = (tallest - len(col)) * (NODE_H + GAP_Y) / 2  # centre short columns
        for n, i in enumerate(col):
            nodes[i] = Node(
                id=i,
                name=names[i],
                layer=c,
                row=n,
                x=MARGIN + c * (NODE_W + gap_x),
                y=MARGIN + offset + n * (NODE_H + GAP_Y),
                lines=_wrap(names[i], 20),
            )

    body_bottom = MARGIN + tallest * (NODE_H + GAP_Y) - GAP_Y
    edges: list[Edge] = []
    loops = 0
    for s, t, label in links:
        if s not in nodes or t not in nodes or s == t:
            continue
        a, b = nodes[s], nodes[t]
        edge = Edge(s, t, label, back=(s, t) in back)
        if edge.back or b.layer <= a.layer:
            # Down from the source, along under the map, and up the left of the target into
            # its lower left side, so it passes under every box rather than through one.
            loops += 1
            depth = body_bottom + LOOP_SPACE * loops
            x1, y1 = a.cx + 12, a.y + NODE_H
            lx, ty = b.x - 14, b.y + NODE_H * 0.75
            edge.path = (
                f"M {x1:.0f} {y1:.0f} Q {x1:.0f} {depth:.0f}, {x1 - 16:.0f} {depth:.0f} "
                f"L {lx + 16:.0f} {depth:.0f} Q {lx:.0f} {depth:.0f}, {lx:.0f} {depth - 16:.0f} "
                f"L {lx:.0f} {ty + 12:.0f} Q {lx:.0f} {ty:.0f}, {b.x - 3:.0f} {ty:.0f}"
            )
            edge.label_x, edge.label_y = (x1 + lx) / 2, depth + 4
        else:
            x1, y1 = a.x + NODE_W, a.y + NODE_H / 2
            x2, y2 = b.x - 8, b.y + NODE_H / 2
            bend = max((x2 - x1) / 2, 30)
            edge.path = (
                f"M {x1:.0f} {y1:.0f} C {x1 + bend:.0f} {y1:.0f}, {x2 - bend:.0f} {y2:.0f}, "
                f"{x2:.0f} {y2:.0f}"
            )
            edge.label_x, edge.label_y = (x1 + x2) / 2, (y1 + y2) / 2 - 8
        edge.label_lines = label_lines.get((s, t), [])
        edge.label_w = max((len(x) for x in edge.label_lines), default=0) * CHAR_W + 12
        if len(edge.label_lines) > 1:
            edge.label_y -= 7  # centre two lines on the same point as one
        edges.append(edge)

    width = MARGIN * 2 + max(len(columns), 1) * (NODE_W + gap_x) - gap_x
    height = body_bottom + MARGIN + LOOP_SPACE * loops + (8 if loops else 0)
    return Layout(nodes=nodes, edges=edges, width=width, height=max(height, NODE_H + 2 * MARGIN))
