"""The error boundary every command-line tool shares: bad input is one line on stderr and exit code 2."""

from __future__ import annotations

import sys
from collections.abc import Callable

from core.types import InputError

EXIT_BAD_INPUT = 2


def run_cli(body: Callable[[], int | None]) -> int:
    """Run a CLI's body; an InputError (or a file-system error) becomes `error: ...` and exit code 2."""
    try:
        return int(body() or 0)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
    except OSError as error:
        print(f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
    return EXIT_BAD_INPUT
