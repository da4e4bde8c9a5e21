"""One module per family of commands; enforcer/cli.py wires them to the parser."""
