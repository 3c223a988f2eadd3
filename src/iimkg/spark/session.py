"""A Spark session for the command line: quiet (the JVM's log goes to a file, not the terminal), local-friendly.

The JVM is started with its standard error sent to a log file, so neither Spark's start-up chatter nor a Java stack
trace reaches the terminal; the command says where the log is when Spark fails, and the log's folder is removed when
it does not.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from iimkg.core.errors import IimkgError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["INSTALL_HINT", "require_pyspark", "session"]

# Spark SQL's default of 200 shuffle partitions makes every grouping of a small cohort 200 tasks; adaptive query
# execution (on by default) merges small ones, this bounds the rest.
SHUFFLE_PARTITIONS = 16
INSTALL_HINT = "--spark needs pyspark (and Java 17+): pip install 'iimkg[spark]'"
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


def require_pyspark() -> None:
    """Fail with one line saying how to install pyspark if it is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise IimkgError(INSTALL_HINT) from None


@contextmanager
def session(master: str, *, app: str = "iimkg validate") -> Iterator[tuple[SparkSession, str]]:
    """A session on ``master`` (``local[2]``, ``spark://host:7077``, ``yarn``…) and the path of its log file; stopped
    on leaving. The log's folder is removed then, unless the error leaving names the log (a Spark failure: see
    :mod:`iimkg.spark.command`). Every run left a folder with the log and its settings in the temporary folder
    before.

    :raises IimkgError: if pyspark is missing or the JVM does not start (with the log's path).
    """
    spark, log = _start(master, app)
    failure = ""
    try:
        yield spark, log
    except BaseException as error:
        failure = str(error) or type(error).__name__
        raise
    finally:
        spark.stop()
        if log not in failure:
            shutil.rmtree(os.path.dirname(log), ignore_errors=True)


def _start(master: str, app: str) -> tuple[SparkSession, str]:
    require_pyspark()
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    folder = tempfile.mkdtemp(prefix="iimkg-spark-")
    log = os.path.join(folder, "spark.log")
    settings = os.path.join(folder, "log4j2.properties")
    with open(settings, "w", encoding="utf-8") as handle:
        handle.write(_LOG4J)
    java = f"-Dlog4j2.configurationFile=file:{settings}"
    conf = (SparkConf().setMaster(master).setAppName(app)
            .set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false")
            .set("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
            .set("spark.driver.extraJavaOptions", java).set("spark.executor.extraJavaOptions", java))
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        conf.set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
        if not os.environ.get("PYSPARK_PYTHON"):
            # the Python workers of a local session are this interpreter, which has iimkg; Spark's default is the
            # "python3" on PATH, which has not when the command is run from a virtual environment not activated
            # (pipx, cron, a full path to the script): every task then failed on "No module named 'iimkg'".
            # (pyspark reads the variable, not spark.pyspark.python, when it sends a task's function)
            os.environ["PYSPARK_PYTHON"] = sys.executable
    try:
        with open(log, "ab") as sink, warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # pyspark's notes on pandas versions
            gateway = launch_gateway(conf, popen_kwargs={"stderr": sink, "stdout": sink})  # type: ignore[no-untyped-call]
            context = SparkContext(conf=conf, gateway=gateway)
            context.setLogLevel("ERROR")
            return SparkSession(context), log
    except Exception as error:  # the JVM did not start, or the master is unreachable: Py4J and Spark errors
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise IimkgError(f"Spark did not start on {master}: {first} (log: {log})") from None
