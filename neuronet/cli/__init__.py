"""The command line: ``neuronet compare | train | gradcheck | predict | data``, and ``main``.

Every command prints plain fixed-width text to stdout; progress bars go to stderr and appear only
on a terminal. Bad input (options, data files, network files) ends with one line
``neuronet: error: ...`` and exit code 2; a reader that stops reading stdout (``| head``) ends
the command quietly with exit code 141, as SIGPIPE would.

Imports point one way: this module uses ``parser`` (every option, and which body runs each
command), the parser uses the command bodies (``compare``, ``train``, ``gradcheck``, ``predict``,
``data``), and they use ``shared`` (the steps two commands take) and the library. The library
never imports the command line.
"""
import os
import sys

from ..train import DivergenceError
from .parser import build_parser


def main(argv=None):
    """Run the command line; returns the exit code (0 fine, 1 a check failed, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:  # the reader stopped reading: `neuronet backends | head -3`
        quiet_stdout()
        return 141  # as a program that SIGPIPE stopped, and without a message
    except (ValueError, OSError, DivergenceError) as error:  # DataError and PlotError included
        print(f"neuronet: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neuronet: interrupted", file=sys.stderr)
        return 130


def quiet_stdout():
    """Send what is left of stdout to os.devnull, so that Python's flush at exit meets no closed
    pipe (the Python documentation's advice for a BrokenPipeError); stdout that is no file is
    left alone."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass
