"""Data models: the snapshot (evidence), the baseline (intent) and findings (verdicts)."""
