"""The CLI's subcommands, one module each, registered by netstudy.cli.COMMANDS."""
