"""Treatment plans, whatever format they came in.

The plan model and its Turtle writer, code mapping, conversion notes, and plan validation over RDF.
"""
