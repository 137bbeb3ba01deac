"""``python -m neuronet``: the same command line as the ``neuronet`` script."""
from .cli import main

raise SystemExit(main())
