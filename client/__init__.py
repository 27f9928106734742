"""A command-line client for the stack, local or deployed (`python -m client`)."""
