"""A Flask model server: the mean of each training column, answered as readable numbers."""

import csv
import io
import json
import os

import humanize
from flask import Flask, Response, request

MODEL_DIR = "/opt/ml/model"
app = Flask(__name__)


def model() -> dict:
    with open(os.path.join(MODEL_DIR, "means.json")) as stream:
        return json.load(stream)


@app.get("/ping")
def ping() -> Response:
    model()
    return Response("", status=200)


@app.post("/invocations")
def invocations() -> Response:
    if request.content_type != "text/csv":
        return Response("text/csv only", status=415)
    means = model()["means"]
    lines = []
    for row in csv.reader(io.StringIO(request.get_data(as_text=True))):
        if row:
            score = sum(float(v) * m for v, m in zip(row, means, strict=True))
            lines.append(humanize.intcomma(round(score)))
    return Response("\n".join(lines) + "\n", mimetype="text/csv")
