"""Execution: the runner (orchestration of a plan), the stack jobs and the executors (in this
process or on a Dask cluster) that train them."""
