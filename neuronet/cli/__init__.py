"""The command line: ``neuronet compare | train | gradcheck | predict | data``, and ``main``.

Every command prints plain fixed-width text to stdout; progress bars go to stderr and appear only
on a terminal. Bad input (options, data files, network files) ends with one line
``neuronet: error: ...`` and exit code 2.

Imports point one way: this module uses ``parser`` (every option, and which body runs each
command), the parser uses the command bodies (``compare``, ``train``, ``gradcheck``, ``predict``,
``data``), and they use ``shared`` (the steps two commands take) and the library. The library
never imports the command line.
"""
import sys

from ..train import DivergenceError
from .parser import build_parser


def main(argv=None):
    """Run the command line; returns the exit code (0 fine, 1 a check failed, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError, DivergenceError) as error:  # DataError and PlotError included
        print(f"neuronet: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neuronet: interrupted", file=sys.stderr)
        return 130
