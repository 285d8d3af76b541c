"""Reads Pulse's Parquet output with DuckDB (an independent reader) and checks it against the
same pipeline's JSON-lines output: row count, a sum, and the column types."""
import json
import sys

import duckdb

parquet_dir, jsonl, sum_column = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(line) for line in open(jsonl)]
con = duckdb.connect()
scan = f"read_parquet('{parquet_dir}/**/*.parquet', hive_partitioning = false)"
count, total = con.execute(f"select count(*), sum({sum_column}) from {scan}").fetchone()
want_total = sum(r[sum_column] for r in rows)
assert count == len(rows), f"duckdb counted {count} rows, JSON lines has {len(rows)}"
assert total == want_total, f"duckdb sum({sum_column}) = {total}, JSON lines gives {want_total}"
types = dict(con.execute(f"select column_name, column_type from (describe select * from {scan})").fetchall())
assert types[sum_column] == "UBIGINT", types
print(f"duckdb {duckdb.__version__}: {count} rows, sum({sum_column}) = {total}, types {types}")
