"""The laptop environment: Java check, cached jars, the local S3 server and local Spark."""
