"""The embedded backend: SQLite (WAL, group commit) plus files for large blobs."""
