"""`aelab anomaly`: one-class anomaly detection — data, scores, metrics, the per-class protocol, summaries."""
