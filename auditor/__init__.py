"""Mailbox-access compliance auditor for Microsoft 365."""

__version__ = "0.1.0"
