"""Validation's floor: the findings model and the SHACL engines.

pyshacl and the compiled engine on pyoxigraph, the ontology quality gate, and the reports in every format.
"""
