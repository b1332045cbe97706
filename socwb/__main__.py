"""Run the command line with ``python -m socwb``."""

from socwb.cli import main

main()
