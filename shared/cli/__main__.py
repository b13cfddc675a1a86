"""`python -m shared.cli`: the same CLI as the installed `regsync` script."""

from shared.cli import main

main()
