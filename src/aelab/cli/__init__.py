"""The `aelab` command line: a thin layer over the library.

Options of `train` come from the config dataclasses; every `AelabError` becomes one line on
stderr and the exit code of its kind. Nothing runs at import. The parser is built in `parser`
(one function per subcommand), the commands run in `commands`.
"""

from __future__ import annotations

import os
import sys
import warnings

from aelab.cli.commands import COMMANDS, ray_settings, say_warning  # noqa: F401 (ray_settings: the tests of --ray)
from aelab.cli.parser import build_parser
from aelab.errors import AelabError


def one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A Python warning as say_warning's one line, not Python's file:line: Category: … with the source line under it."""
    say_warning(message)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():  # a warning is one line on the command line, as an error is
            warnings.showwarning = one_line_warning
            return COMMANDS[args.command](args)
    except AelabError as exc:
        print(f"aelab: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("aelab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `aelab data inspect … | head`: the reader has gone; nothing more to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit does not fail too
        return 141  # as a shell reports a command ended by SIGPIPE
