"""The Typer app: one short shim per command over the library."""
