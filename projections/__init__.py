"""Read models rebuilt from the log's events (ratings, timelines, quotas, complaints)."""
