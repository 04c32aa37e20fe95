"""python -m demos NAME [options] | python -m demos --list"""
import importlib
import sys

from rich.console import Console
from rich.table import Table

import tinygrad_seq as tg
from demos import DEMOS


def list_demos(console):
    table = Table(title="tinygrad_seq demos  (python -m demos NAME --help)")
    table.add_column("name", style="bold")
    table.add_column("what it shows")
    for name, mod in DEMOS.items():
        table.add_row(name, importlib.import_module(mod).DESCRIPTION)
    console.print(table)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    console = Console()
    if not argv or argv[0] in ("--list", "-l", "list", "-h", "--help"):
        list_demos(console)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in DEMOS:
        console.print(f"[red]unknown demo {name!r}[/red]; choose one of: {', '.join(DEMOS)}")
        return 2
    wants_cuda = "--device=cuda" in rest or any(a == "--device" and b == "cuda" for a, b in zip(rest, rest[1:]))
    why = tg.backend.devices.cuda_unavailable_reason() if wants_cuda else None
    if why is not None:   # one line, no traceback: the machine has no GPU to run on
        console.print(f"{name}: --device cuda: {why}; run with --device cpu", markup=False, soft_wrap=True)
        return 2
    importlib.import_module(DEMOS[name]).main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
