"""The shipped knowledge graph.

Loading it, naming and resolving its terms, its statistics, reasoning over it.
"""
