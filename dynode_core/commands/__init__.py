"""Core CLI commands, one module per command family; each exports ``COMMANDS``."""
