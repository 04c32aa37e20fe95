"""python -m demos NAME [options] | python -m demos --list"""
import importlib
import sys

from rich.console import Console
from rich.table import Table

from demos import DEMOS
from demos.common import USER_ERRORS


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
        print(f"python -m demos: error: unknown demo {name!r}; choose one of: {', '.join(DEMOS)}",
              file=sys.stderr)
        return 2
    try:
        out = importlib.import_module(DEMOS[name]).main(rest)
    except USER_ERRORS as e:   # a mistake in the call, not a bug: one line, no traceback
        message = " ".join(str(e).split())
        message = message[len(name) + 2:] if message.startswith(f"{name}: ") else message
        print(f"python -m demos {name}: error: {message}", file=sys.stderr)
        return 2
    # a demo may say how it went (the exercise checker: 1 unless every exercise passes)
    return out.get("exit_code", 0) if isinstance(out, dict) else 0


if __name__ == "__main__":
    sys.exit(main())
