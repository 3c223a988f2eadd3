"""The floor every wing stands on.

Errors, the namespaces, the prefix map, RDF terms, the packaged files and atomic writes; imports nothing else of iimkg.
"""
