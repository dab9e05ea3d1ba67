"""StackExchange lakehouse: the pipeline logic behind the medallion notebooks.

It imports the same way from a local checkout and from Databricks workspace files
placed beside the notebooks.
"""
