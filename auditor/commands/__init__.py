"""The CLI commands, one module per kind of work; auditor/cli.py registers them."""
