"""The graph view and the gradcheck demo."""
import io

from rich.console import Console

import tinygrad_seq as tg
from tinygrad_seq.viz import to_dot
from demos import gradcheck as demo


def render(obj):
    c = Console(file=io.StringIO(), width=100, record=True)
    c.print(obj)
    return c.export_text()


def test_graph_tree_and_dot():
    x = tg.randn(2, 3, requires_grad=True)
    w = tg.randn(3, 4, requires_grad=True)
    h = (x @ w).tanh()
    y = (h * h).sum()
    text = render(y.graph())
    for op in ("Sum", "Mul", "Tanh", "MatMul", "leaf (2, 3)", "leaf (3, 4)", "shown above"):
        assert op in text, op
    dot = to_dot(y)
    assert dot.startswith("digraph") and dot.count("->") >= 6 and "MatMul" in dot


def test_gradcheck_demo_quick_all_ops_pass():
    out = demo.main(["--quick"])
    assert out["total"] >= 10 and out["passed"] == out["total"]


def test_gradcheck_demo_table_is_printed(capsys):
    demo.main(["--op", "tanh", "--op", "matmul 2-D"])
    printed = capsys.readouterr().out
    assert "tanh" in printed and "matmul 2-D" in printed and "2/2 ops pass" in printed
