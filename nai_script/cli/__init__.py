"""The ``nai-script`` command line: one module per subcommand, assembled by :mod:`.main`."""
