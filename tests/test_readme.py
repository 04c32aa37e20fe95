"""The README tells the truth: every name in the slides-to-code table exists, every demo it
names is registered, its test command is what CI runs, and its code examples hold."""
import pathlib
import re

import numpy as np

import tinygrad_seq as tg
from demos import DEMOS

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def slides_table():
    block = README.split("<!-- slides-table:start -->")[1].split("<!-- slides-table:end -->")[0]
    return [line for line in block.splitlines() if line.startswith("| ") and "---" not in line][1:]


def resolve(dotted):
    obj = tg
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def test_every_name_in_the_slides_table_exists():
    rows = slides_table()
    assert len(rows) >= 25
    names = [n for row in rows for n in re.findall(r"`(tg\.[\w.]+)`", row)]
    assert len(names) >= 40
    missing = []
    for n in names:
        try:
            resolve(n)
        except AttributeError:
            missing.append(n)
    assert not missing, f"README names that do not exist: {missing}"


def test_every_demo_named_in_the_readme_is_registered():
    named = set(re.findall(r"python -m demos (\w+)", README))
    assert {"charlm", "gradcheck", "sentiment", "conv", "gradients", "tbptt", "seq2seq", "tagging",
            "exercises", "mlp", "activations", "textconv", "inside"} <= named
    assert named <= set(DEMOS) | {"NAME"}, named - set(DEMOS)


def test_quick_start_commands_and_ci():
    assert "pip install -e . && python -m demos charlm" in README
    test_cmd = 'pip install -e ".[test]" && pytest -q'
    assert test_cmd in README
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == test_cmd and any("torch==2.13.0" in line for line in ci)


def test_slides_lstm_example_shapes():
    lstm = tg.nn.LSTM(input_size=5, hidden_size=2)
    assert repr(lstm) == "LSTM(5, 2)"
    assert [p.shape for p in lstm.parameters()] == [(8, 5), (8, 2), (8,), (8,)]
    out, (h, c) = lstm(tg.rand(1000, 1, 5))
    assert out.shape == (1000, 1, 2) and h.shape == (1, 1, 2)
    np.testing.assert_allclose(out.numpy()[-1], h.numpy()[0], rtol=1e-6)


def test_python_examples_run():
    """Every ```python block runs, in order, in one namespace (a section builds on the one
    before), except the data-parallel one, which needs mpiexec and the reader's own model."""
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    runnable = [b for b in blocks if "init_process_group" not in b]
    assert len(runnable) >= 6 and len(blocks) - len(runnable) == 1
    namespace = {}
    for i, block in enumerate(runnable):
        exec(compile(block, f"README python block {i}", "exec"), namespace)
    w = namespace["w"]                       # the API tour's manual update went through .data
    assert isinstance(w.data, tg.Tensor) and w.data.array is w.array is namespace["a"]
