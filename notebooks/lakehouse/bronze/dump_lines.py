"""A raw dump file as text lines, handed to Python in Arrow batches.

Reading text lets Spark split the file across every core, however large it is.
"""

from collections.abc import Callable, Iterable

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema


def map_lines(
    spark: SparkSession, uri: str, function: Callable[[pa.Array], pa.RecordBatch], schema: pa.Schema
) -> DataFrame:
    """`function` applied to each batch of the file's lines, giving rows in `schema`."""

    def apply(batches: Iterable[pa.RecordBatch]) -> Iterable[pa.RecordBatch]:
        for batch in batches:
            yield function(batch.column(0))

    return spark.read.text(uri).mapInArrow(apply, from_arrow_schema(schema))
