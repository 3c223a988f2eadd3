"""Plan validation distributed on Apache Spark: plan files and FHIR Bulk Data NDJSON (grouped by patient) spread
over executors, each partition checked by the local run's compiled engine, the same findings as a DataFrame.

``pyspark`` is an optional extra (``pip install 'iimkg[spark]'``): the modules here import it only when called.
"""

from iimkg.spark.job import validate

__all__ = ["validate"]
