"""XML -> bronze.posts: this project's checked bronze step beside Spark's own XML reader
at its strongest (explicit schema, no inference), one warm driver, same file, same run.

Also asks whether Spark's reader could replace ours: on a small file with a malformed
row, a row without Id and the XML prolog, which rows does PERMISSIVE mode with
`columnNameOfCorruptRecord` flag, and does dropping rows without an Id remove the rest?
Run: `.venv/bin/python benchmarks/xml_readers.py --posts-mb 512`.
"""

import argparse
import time
from datetime import UTC, datetime

from run_benchmarks import generated_posts, private_s3_server, upload_raw, warm_up

from lakehouse.schemas import table_for_file
from worker.spark_session import build_local_session

SITE = "bench.example.com"
CORRUPT = "_corrupt_record"
SPARK_TYPES = {
    "bigint": "long",
    "int": "integer",
    "string": "string",
    "timestamp": "timestamp",
    "boolean": "boolean",
}
PROBE = """<?xml version="1.0" encoding="utf-8"?>
<posts>
  <row Id="1" PostTypeId="1" CreationDate="2024-01-01T00:00:00.000" Score="1" Body="ok" />
  <row Id="2" PostTypeId="1" CreationDate="2024-01-01T00:00:00.000" Score="x" Body="bad" />
  <row Id="3" PostTypeId="1" CreationDate="2024-01-01T00:00:00.000" Body="unclosed />
  <row PostTypeId="2" CreationDate="2024-01-01T00:00:00.000" Body="no id" />
  <row Id="5" PostTypeId="2" CreationDate="2024-01-01T00:00:00.000" Body="ok" />
</posts>
"""


def xml_schema(with_corrupt: bool = True):
    from pyspark.sql.types import StructField, StructType, _parse_datatype_string

    table = table_for_file("Posts.xml")
    fields = [
        StructField(f"_{a.name}", _parse_datatype_string(SPARK_TYPES[a.type]))
        for a in table.attributes
    ]
    if with_corrupt:
        fields.append(StructField(CORRUPT, _parse_datatype_string("string")))
    return StructType(fields)


def spark_reader(spark, uri: str, multi_line: bool | None):
    reader = (
        spark.read.format("xml")
        .option("rowTag", "row")
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .schema(xml_schema())
    )
    if multi_line is not None:
        reader = reader.option("multiLine", str(multi_line).lower())
    return reader.load(uri)


def probe(spark, settings) -> None:
    """What Spark's reader makes of the rows our parser rejects."""

    from worker.ingest.raw_store import s3_client

    key = "probe/Posts.xml"
    s3_client(settings).put_object(Bucket=settings.bucket, Key=key, Body=PROBE.encode())
    uri = f"s3a://{settings.bucket}/{key}"
    for multi_line in (False, None):
        rows = spark_reader(spark, uri, multi_line).collect()
        print(f"\nprobe, multiLine={multi_line}: {len(rows)} rows")
        for row in rows:
            print(
                f"  Id={row['_Id']} Score={row['_Score']} Body={row['_Body']!r} "
                f"corrupt={(row[CORRUPT] or '')[:60]!r}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts-mb", type=int, default=512)
    args = parser.parse_args()
    from lakehouse.bronze.xml_to_bronze import DumpToLoad, load_dump_files
    from lakehouse.lake import Lake

    with private_s3_server() as settings:
        spark = build_local_session(settings, app_name="xml-readers")
        lake = Lake(spark, settings)
        print(f"warm-up: {warm_up(lake)} s")
        probe(spark, settings)
        dump_id = f"2025-01-01-readers{args.posts_mb:04d}"
        size = upload_raw(settings, generated_posts(args.posts_mb), dump_id)
        uri = lake.raw_uri(SITE, dump_id, "Posts.xml")
        print(f"\n{size / 1e6:.0f} MB, cores: {spark.sparkContext.defaultParallelism}")

        started = time.monotonic()
        load = load_dump_files(DumpToLoad(lake, SITE, dump_id, datetime.now(UTC)), ["Posts.xml"])[0]
        ours = time.monotonic() - started
        print(
            f"ours, checked bronze step: {ours:.1f} s, {size / 1e6 / ours:.1f} MB/s, "
            f"{load.rows_loaded:,} rows"
        )

        for multi_line in (False, None):
            df = spark_reader(spark, uri, multi_line)
            started = time.monotonic()
            df.write.format("delta").mode("overwrite").save(
                f"s3a://{settings.bucket}/bench/spark_reader_{multi_line}"
            )
            seconds = time.monotonic() - started
            written = spark.read.format("delta").load(
                f"s3a://{settings.bucket}/bench/spark_reader_{multi_line}"
            )
            rows, no_id = written.count(), written.where("_Id IS NULL").count()
            corrupt = written.where(f"{CORRUPT} IS NOT NULL").count()
            print(
                f"Spark reader, explicit schema, multiLine={multi_line}: {seconds:.1f} s, "
                f"{size / 1e6 / seconds:.1f} MB/s ({ours / seconds:.2f}x ours), "
                f"{df.rdd.getNumPartitions()} partitions, {rows:,} rows, "
                f"{no_id} without Id, {corrupt} corrupt"
            )


if __name__ == "__main__":
    main()
