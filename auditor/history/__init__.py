"""Run history (SQLite), drift between runs and trends: what changed, not only what is wrong."""
