"""Releases of the ontology.

The release graph, its artefacts and serialisers, SSSOM, HTML docs, diffs against earlier releases.
"""
