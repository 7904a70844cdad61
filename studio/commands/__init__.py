"""Subcommands of the `studio` command line; each module has `register(subparsers)`."""
