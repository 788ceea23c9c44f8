"""CloudWatch Logs: what the local AWS runs writes its output here (streams.py), and the
CloudWatch Logs API reads it (models.py, responses.py)."""
