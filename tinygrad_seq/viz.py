"""Look at an autograd graph: a rich tree in the terminal, or Graphviz DOT.

    y = (x * w).tanh().sum()
    rich.print(y.graph())          # or tinygrad_seq.viz.to_dot(y)
"""
from rich.tree import Tree

from .autograd import Node


def _label(obj):
    if isinstance(obj, Node):
        shapes = ", ".join(str(s) for s in (obj.shapes or ()) if s is not None)
        return f"[bold]{obj.fn.__name__}[/bold] [dim]inputs {shapes}[/dim]"
    return f"[green]leaf[/green] {obj.shape} {obj.dtype}"


def _node_of(edge):
    """A parent edge is a leaf, a Node, or (node, k) for output k of a node with several outputs."""
    return edge[0] if edge.__class__ is tuple else edge


def graph(t):
    """A rich Tree of the ops that produced tensor `t` (shared nodes shown once)."""
    root = Tree(f"{t.shape} {t.dtype}" + ("" if t._ctx else " (leaf)"))
    if t._ctx is None:
        return root
    seen = set()
    stack = [(t._ctx, root)]
    while stack:  # iterative: deep graphs (long sequences) must not recurse
        obj, parent = stack.pop()
        if obj.__class__ is Node and obj.released:
            parent.add("[red]released[/red] (backward already ran)")
            continue
        if id(obj) in seen:
            parent.add(_label(obj) + " [dim](shown above)[/dim]")
            continue
        seen.add(id(obj))
        branch = parent.add(_label(obj))
        if isinstance(obj, Node):
            for p in reversed([_node_of(p) for p in obj.parents if p is not None]):
                stack.append((p, branch))
    return root


def to_dot(t, path=None):
    """Graphviz DOT text for the graph of `t` (written to `path` if given)."""
    lines = ["digraph autograd {", '  rankdir="BT";', '  node [shape=box, fontname="monospace"];',
             f'  out [label="output {t.shape}", shape=ellipsis];']
    seen, stack = {}, []
    if t._ctx is not None:
        stack.append((t._ctx, "out"))
    while stack:
        obj, child = stack.pop()
        new = id(obj) not in seen
        if new:
            seen[id(obj)] = f"n{len(seen)}"
            name = obj.fn.__name__ if isinstance(obj, Node) else f"leaf {obj.shape}"
            style = "" if isinstance(obj, Node) else ", style=filled, fillcolor=lightblue"
            lines.append(f'  {seen[id(obj)]} [label="{name}"{style}];')
        lines.append(f"  {seen[id(obj)]} -> {child};")
        if new and isinstance(obj, Node) and not obj.released:
            stack.extend((_node_of(p), seen[id(obj)]) for p in obj.parents if p is not None)
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path:
        with open(path, "w") as f:
            f.write(text)
    return text
