"""gunicorn's entry: the Flask app of predictor.py."""

import predictor

app = predictor.app
