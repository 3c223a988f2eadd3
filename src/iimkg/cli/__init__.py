"""The iimkg command.

One module per command group; errors become one-line messages and exit codes, never tracebacks.
"""
