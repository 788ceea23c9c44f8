"""Local Lambda: the REST-JSON API (models.py, responses.py) and the one runtime that runs every
function of the local AWS, the Chalice API's included (runtime.py, bootstrap.py)."""
