"""Subcommands of the ``spice`` command line (see :mod:`spice_env.cli`)."""
