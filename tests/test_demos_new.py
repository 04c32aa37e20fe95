"""The demos activations, textconv and inside, run with --quick: what they print is what they found."""
import io
import re

import numpy as np
import pytest
from rich.console import Console


def run(module, argv):
    console = Console(record=True, file=io.StringIO(), width=100)   # the demos' promise: 100 columns
    out = module.main(argv, console=console)
    return out, console.export_text()


# ---------------------------------------------------------------- activations
def test_activations_demo():
    from demos import activations
    out, text = run(activations, ["--quick"])
    acc = {k: v["test_acc"] for k, v in out["activations"].items()}
    # identity collapses to a linear model; relu and tanh bend around the spirals
    assert acc["relu"] > acc["identity"] + 0.2 and acc["tanh"] > acc["identity"] + 0.2
    assert acc["identity"] < 0.8
    # sigmoid's slope (at most 0.25) sends back far less gradient than tanh at the same weights
    grads = {k: v["grad0"] for k, v in out["activations"].items()}
    assert grads["sigmoid"] < grads["tanh"] / 4
    # the deck's vector: without a squash it grows 3x a step; tanh keeps it in (-1, 1)
    assert np.allclose(out["squashed"]["identity"], np.array([5, 0.01, -0.5]) * 3 ** 4)
    assert np.all(np.abs(out["squashed"]["tanh"]) < 1)
    assert np.all((out["squashed"]["sigmoid"] > 0) & (out["squashed"]["sigmoid"] < 1))
    # the sawtooth: both nets exact, 2^k pieces counted from their outputs, deep params linear in k
    for row in out["depth"]:
        k = row["k"]
        assert row["pieces"] == row["pieces_shallow"] == 2 ** k
        assert row["err"] < 1e-9
        assert row["deep_params"] == 6 * k + 1 and row["shallow_params"] == 3 * 2 ** k + 1
    # the same-budget comparison really has the same budget (within one hidden unit)
    t = out["trained"]
    assert abs(t["deep"]["params"] - t["shallow"]["params"]) <= 5
    for heading in ("(0) the deck's vector", "(a) 2-32-32-2", "(b) the sawtooth", "(b) same budget"):
        assert heading in text
    assert max(len(line) for line in text.splitlines()) <= 100


# ---------------------------------------------------------------- textconv
def test_textconv_receptive_fields_and_accuracy():
    from demos import textconv
    out, text = run(textconv, ["--quick"])
    # the formula, computed here from the layers' kernels and strides
    r, j, expect = 1, 1, []
    for k, s, _ in textconv.LAYERS:
        r, j = r + (k - 1) * j, j * s
        expect.append((r, j))
    assert out["receptive_fields"] == expect == [(3, 1), (5, 2), (9, 4), (17, 8)]
    printed = [int(m) for m in re.findall(r"chars \d+\.\.\d+ \((\d+)\)", text)]
    assert printed == [w for w, _ in expect]
    for span, (w, step) in zip(out["spans"], expect):
        # autograd agrees with the formula: exactly these characters move the unit
        assert (span["grad_start"], span["grad_width"]) == (span["start"], span["width"]) == (span["unit"] * step, w)
    # the brackets drawn under the text are as wide as the spans
    widths = [len(m) for m in re.findall(r"\[=*\]", text)]
    assert widths[:4] == [w for w, _ in expect]
    assert out["accuracy"] > 0.8 and out["accuracy_distractors"] > 0.75
    assert max(len(line) for line in text.splitlines()) <= 100


# ---------------------------------------------------------------- inside
def test_inside_demo_trains_and_shows_gates(tmp_path):
    from demos import inside
    out, text = run(inside, ["--quick", "--checkpoint", str(tmp_path / "none.npz")])
    lstm, gru = out["lstm"], out["gru"]
    assert lstm["mismatch"] < 1e-4 and gru["mismatch"] < 1e-4   # stepping the cell = the fused layer
    for gate in ("f", "i", "o"):
        for where in ("sentence", "line", "elsewhere"):
            assert 0 <= lstm[gate][where] <= 1
    for where in ("sentence", "line", "elsewhere"):
        assert 0 <= gru["update"][where] <= 1
    f = lstm["f"]
    assert f"forget gate (mean) at sentence ends {f['sentence']:.3f} vs elsewhere {f['elsewhere']:.3f}" in text
    assert set(lstm["cells"]) <= {"quote", "bracket", "column"} and lstm["cells"]
    for what, c in lstm["cells"].items():
        assert -1 <= c["r"] <= 1 and f"cell C{c['unit']} tracks" in text
    # heat map rows: label column then one shade per character, within 100 columns
    rows = [line for line in text.splitlines() if line.startswith("f mean")]
    assert rows and all(set(line[inside.LABEL:]) <= set(" ░▒▓█") for line in rows)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "GRU update 1 - z_t" in text


def test_inside_uses_charlms_checkpoint(tmp_path):
    from demos import charlm, inside
    ck = str(tmp_path / "c.npz")
    run(charlm, ["--quick", "--steps", "10", "--checkpoint", ck])
    out, text = run(inside, ["--quick", "--cell", "lstm", "--checkpoint", ck])
    assert f"charlm's weights from {ck}" in text and "training a LSTM" not in text
    assert out["lstm"]["mismatch"] < 1e-4


@pytest.mark.parametrize("name", ["activations", "inside", "textconv"])
def test_new_demos_are_listed(name):
    from demos import DEMOS
    assert DEMOS[name] == f"demos.{name}"
