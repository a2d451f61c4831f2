"""``python -m astroxai.cli``: the command line."""

from astroxai.cli import main

main()
