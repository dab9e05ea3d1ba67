"""A dump file read in many splits, as a cluster reads a large one: Spark cuts the file
at byte offsets, each task reads whole lines from its offset on, and bronze must still
get every row exactly once. The same file loaded in one split is the oracle."""

from lxml import etree
from pipeline_helpers import put_raw_dump
from pyspark.sql import functions as F

from dump_generator.sample import SampleSpec, write_sample_dump
from lakehouse import steps
from lakehouse.bronze.xml_to_bronze import parse_dump_file
from lakehouse.delta_merge import ROW_HASH
from lakehouse.schemas import table_for_file

SPLIT_BYTES = 12 * 1024
DUMP_ID = "2024-01-01-5b117500"


def test_a_file_cut_into_many_splits_loads_every_row_once(lake, s3, settings, tmp_path):
    write_sample_dump(SampleSpec(site="splits.example.com", questions=400, seed=3), tmp_path)
    files = {name: (tmp_path / name).read_text() for name in ("Posts.xml", "Users.xml")}
    rows = sum(1 for _ in etree.iterparse(str(tmp_path / "Posts.xml"), tag="row"))
    assert len(files["Posts.xml"].encode()) > 30 * SPLIT_BYTES

    loads = {}
    for site, split in (("whole.example.com", None), ("splits.example.com", SPLIT_BYTES)):
        put_raw_dump(s3, settings, site, DUMP_ID, files, ingest_facts=True)
        ctx = steps.run_context(lake, site, DUMP_ID)
        if split is None:
            loads[site] = steps.bronze_posts(ctx)
            continue
        lake.spark.conf.set("spark.sql.files.maxPartitionBytes", str(split))
        try:
            uri = lake.raw_uri(site, DUMP_ID, "Posts.xml")
            lines = parse_dump_file(lake.spark, uri, table_for_file("Posts.xml"))
            tasks = lines.select(F.spark_partition_id()).distinct().count()
            loads[site] = steps.bronze_posts(ctx)
        finally:
            lake.spark.conf.unset("spark.sql.files.maxPartitionBytes")

    assert tasks > 30
    for load in loads.values():
        assert (load.rows_in_file, load.rows_loaded, load.rows_rejected) == (rows, rows, 0)
    whole, split = (
        lake.read("bronze.posts").where(F.col("site") == site).select("id", ROW_HASH)
        for site in loads
    )
    assert whole.exceptAll(split).count() == 0 and split.exceptAll(whole).count() == 0
