"""The Flask scoring service of the classic SageMaker bring-your-own example, for the Titanic
forest: `/ping` loads the model, `/invocations` takes CSV through pandas and answers CSV labels.

The model directory (SM_MODEL_DIR, default /opt/ml/model) holds `forest.pkl` (the scikit-learn
forest) and `preprocessor.json` (written by `prepare`).
"""

import io
import json
import os
import pickle
from pathlib import Path

import flask
import pandas as pd

model_path = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))


class ScoringService:
    model = None
    preprocessor = None

    @classmethod
    def get_model(cls):
        if cls.model is None:
            with open(model_path / "forest.pkl", "rb") as source:
                cls.model = pickle.load(source)
            cls.preprocessor = json.loads((model_path / "preprocessor.json").read_text())
        return cls.model

    @classmethod
    def predict(cls, frame):
        model = cls.get_model()
        frame["Sex"] = frame["Sex"].map(cls.preprocessor["sex_codes"])
        frame["Age"] = frame["Age"].fillna(cls.preprocessor["age_fill"])
        return model.predict(frame.values)


app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping():
    status = 200 if ScoringService.get_model() is not None else 404
    return flask.Response(response="\n", status=status, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def transformation():
    if flask.request.content_type != "text/csv":
        return flask.Response(response="This predictor only supports CSV data", status=415,
                              mimetype="text/plain")
    text = flask.request.data.decode("utf-8")
    frame = pd.read_csv(io.StringIO(text), header=None, names=["Pclass", "Sex", "Age"])
    print(f"Invoked with {frame.shape[0]} records")
    predictions = ScoringService.predict(frame)
    out = io.StringIO()
    pd.DataFrame({"results": predictions}).to_csv(out, header=False, index=False)
    return flask.Response(response=out.getvalue(), status=200, mimetype="text/csv")
