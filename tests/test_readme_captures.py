"""The README's captured output is what the programs print.

Each captured block in README.md sits under a marker `<!-- capture: COMMAND -->`. The test runs
COMMAND in-process (the same --quick run the demo tests use: tests/demo_cache.py) and checks
that every line the block shows is a line the program printed, at 100 columns. Timings and
memory differ between runs, so they are compared as placeholders; a line `...` marks lines left
out. The charlm block (`<!-- capture, one machine's 10-minute run: ... -->`) cannot be rerun in a
test: only its table's title, header and row names are checked, against a --quick run."""
import pathlib
import re

import pytest

from demos import common
from tests import demo_cache

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCK = r"\n```\n(.*?)```"
CAPTURES = [(m.group(1).strip(), m.group(2)) for m in re.finditer(r"<!-- capture: (.+?) -->" + BLOCK, README, re.S)]
CHARLM = re.search(r"<!-- capture, one machine's 10-minute run: (.+?) -->" + BLOCK, README, re.S)
CHARLM_QUICK = "python -m demos charlm --quick --checkpoint {tmp}/charlm-quick.npz"


def normal(line):
    """A line with its run-dependent parts (seconds, MiB) as placeholders and runs of spaces or
    box-drawing rules shortened (column widths follow the widest cell)."""
    line = re.sub(r"\d+(\.\d+)? s\b", "<t> s", line)
    line = re.sub(r"\d+(\.\d+)? MiB( \(/\d+\))?", "<mem>", line)
    line = re.sub(r"([─━═])\1+", r"\1", line)
    return " ".join(line.split())


def test_the_readme_has_its_captures():
    commands = [c for c, _ in CAPTURES]
    for name in ("conv", "mlp", "gradcheck", "sentiment", "gradients", "tagging", "seq2seq", "tbptt",
                 "exercises", "activations", "textconv", "inside"):
        assert any(c.startswith(f"python -m demos {name} ") for c in commands), name
    assert all("--quick" in c for c in commands)
    assert CHARLM is not None and CHARLM.group(1).strip() == "python -m demos charlm"


@pytest.mark.parametrize("command,block", CAPTURES, ids=[c[len("python -m demos "):] for c, _ in CAPTURES])
def test_captured_block_is_what_the_command_prints(command, block):
    _, text = demo_cache.run(command)
    printed = {normal(line) for line in text.splitlines()}
    shown = [line for line in block.splitlines() if line.strip() and line.strip() != "..."]
    assert len(shown) >= 5
    assert all(len(line) <= common.WIDTH for line in block.splitlines())
    missing = [line for line in shown if normal(line) not in printed]
    assert not missing, f"README lines that `{command}` does not print:\n" + "\n".join(missing)


def test_charlm_block_has_the_structure_of_a_run():
    """The 10-minute run's figures come from one machine; its table reads like any run's."""
    _, text = demo_cache.run(CHARLM_QUICK)
    printed = {normal(line) for line in text.splitlines()}
    block = CHARLM.group(2).splitlines()
    title = next(line for line in block if line.startswith("held-out loss ("))
    header = next(line for line in block if line.startswith("┃"))
    assert normal(title) in printed and normal(header) in printed
    rows = [line.split("│")[1].strip() for line in block if line.startswith("│") and line.count("│") == 4]
    assert rows[:2] == ["uniform", "bigram (add-0.1)"] and rows[2].startswith("LSTM (ours)")
    for name in rows[:2] + ["LSTM (ours)", "final sample"]:
        assert name in text
    assert all(len(line) <= common.WIDTH for line in block)


def test_demo_output_fits_100_columns(monkeypatch):
    """Every captured run printed at most 100 columns, and a wider terminal (or COLUMNS) does not
    make the demos wider."""
    for command, _ in CAPTURES:
        _, text = demo_cache.run(command)
        assert max(len(line.rstrip()) for line in text.splitlines()) <= common.WIDTH, command
    monkeypatch.setenv("COLUMNS", "200")
    assert common.make_console().width == common.WIDTH
    monkeypatch.setenv("COLUMNS", "72")
    assert common.make_console().width == 72
