"""Primary-key type: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite."""

from sqlalchemy import BigInteger, Integer

BigId = BigInteger().with_variant(Integer(), "sqlite")
