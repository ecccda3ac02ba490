"""Alerts for merchants: the daily digest of new low-stock, near-expiry and churn-risk items.

Pure functions on DataFrames (models/alerts/digest.py); the caller reads the marts and writes
`ml.alert_digests` and `ml.alert_digest_summaries`.
"""
