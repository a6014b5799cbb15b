"""Exit 0 when a PostgreSQL server answers at the URL given as the only argument (used by `make test`)."""

import sys

import psycopg

url = sys.argv[1].replace("postgresql+psycopg://", "postgresql://")
try:
    with psycopg.connect(url, connect_timeout=3) as connection:
        connection.execute("SELECT 1")
except Exception:
    sys.exit(1)
sys.exit(0)
