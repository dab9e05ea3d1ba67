"""What an Airflow worker runs, on Kind or the laptop: ingest, the delta-rs reader, the
pipeline kernel and its local Spark, the bundle's compute, the report, and the S3 server
of Kind's S3 pod."""
