"""`serve`: the SageMaker hosting contract over HTTP, predictions equal to scikit-learn's, and a
4xx with a precise message for every bad request."""

from __future__ import annotations

import csv
import http.client
import json
import os
import pwd
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest
from model_kit import MODEL_DIR, run
from sklearn.ensemble import RandomForestClassifier
from testkit import TEST_DATA, free_port

pytest_plugins = ["model_kit"]

CSV, JSON = "text/csv", "application/json"
MAX_BODY = 6 * 1024 * 1024


def titanic_test_rows() -> list[dict[str, str]]:
    with (TEST_DATA / "titanic_test.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def invoke(server: httpx.Client, body: bytes | str | Iterator[bytes], content_type: str = CSV,
           **headers: str) -> httpx.Response:
    data = body.encode() if isinstance(body, str) else body
    return server.post("/invocations", content=data,
                       headers={"Content-Type": content_type, **headers})


def csv_answer(response: httpx.Response) -> list[tuple[int, float]]:
    assert response.status_code == 200, response.text
    return [(int(label), float(probability)) for label, probability in
            (line.split(",") for line in response.text.splitlines())]


def json_answer(response: httpx.Response) -> list[tuple[int, float]]:
    assert response.status_code == 200, response.text
    return [(p["survived"], p["probability"]) for p in response.json()["predictions"]]


def reference_forest(prepared, model_dir) -> tuple[RandomForestClassifier, Callable]:
    """The forest scikit-learn fits from the train split with the model's hyperparameters,
    and the feature encoding written down in the preprocessor (computed here independently)."""
    preprocessor = json.loads((prepared / "preprocessor/preprocessor.json").read_text())
    hyperparameters = json.loads((model_dir / "metadata.json").read_text())["hyperparameters"]

    def features(rows):
        return [[int(row["Pclass"]), preprocessor["sex_codes"][row["Sex"]],
                 float(row["Age"]) if row["Age"] else preprocessor["age_fill"]] for row in rows]

    with (prepared / "train/train.csv").open(newline="") as handle:
        train = list(csv.DictReader(handle))
    forest = RandomForestClassifier(**hyperparameters, n_jobs=1)
    return forest.fit(features(train), [int(row["Survived"]) for row in train]), features


def test_predictions_equal_scikit_learn_on_the_test_data(server, prepared, trained):
    rows = titanic_test_rows()
    forest, features = reference_forest(prepared, trained.model_dir)
    expected = forest.predict_proba(features(rows))
    body = "Pclass,Sex,Age\n" + "".join(f"{r['Pclass']},{r['Sex']},{r['Age']}\n" for r in rows)
    answer = csv_answer(invoke(server, body))
    assert [label for label, _ in answer] == forest.predict(features(rows)).tolist()
    gaps = [abs(probability - p) for (_, probability), p in zip(answer, expected[:, 1],
                                                                   strict=True)]
    assert max(gaps) <= 1e-6
    assert any(not r["Age"] for r in rows)  # imputation is exercised


def test_predictions_equal_scikit_learn_across_the_input_space(server, prepared, trained):
    """Every class and sex, ages 0 to 80 in steps of 0.01: tree thresholds fall between
    training ages, so this crosses each of them."""
    rows = [{"Pclass": str(pclass), "Sex": sex, "Age": f"{hundredths / 100:.2f}"}
            for pclass in (1, 2, 3) for sex in ("female", "male")
            for hundredths in range(8001)]
    forest, features = reference_forest(prepared, trained.model_dir)
    expected = forest.predict_proba(features(rows))[:, 1]
    answer = json_answer(invoke(server, json.dumps(
        {"instances": [[int(r["Pclass"]), r["Sex"], float(r["Age"])] for r in rows]}), JSON))
    assert [label for label, _ in answer] == forest.predict(features(rows)).tolist()
    assert max(abs(probability - p) for (_, probability), p in zip(answer, expected,
                                                                      strict=True)) <= 1e-6


def test_every_input_format_gives_the_same_predictions(server):
    rows = titanic_test_rows()[:25]
    triples = [(int(r["Pclass"]), r["Sex"], float(r["Age"]) if r["Age"] else None) for r in rows]
    plain = "".join(f"{r['Pclass']},{r['Sex']},{r['Age']}\n" for r in rows)
    expected = csv_answer(invoke(server, plain))
    assert len(expected) == 25
    with_header = "Pclass,Sex,Age\n" + plain
    reordered = "Age,Sex,Pclass\n" + "".join(f"{r['Age']},{r['Sex']},{r['Pclass']}\r\n"
                                               for r in rows)
    labelled = "Survived,Pclass,Sex,Age\n" + "".join(
        f"{r['Survived']},{r['Pclass']},{r['Sex']},{r['Age']}\n" for r in rows)
    for body in (with_header, reordered, labelled):
        assert csv_answer(invoke(server, body)) == expected
    records = [{"Pclass": p, "Sex": s, "Age": a} for p, s, a in triples]
    arrays = [list(triple) for triple in triples]
    for instances in (records, arrays):
        response = invoke(server, json.dumps({"instances": instances}), JSON)
        assert json_answer(response) == expected
        assert response.json()["model_version"] == json.loads(
            server.get("/ping").content)["model_version"]


def test_the_test_split_is_scored_in_one_request_as_row_by_row(server):
    """A batch transform sends many lines per request (SplitType Line, MultiRecord) or the whole
    file with its header (SplitType None): one answer line per data line, in order, each equal
    to the answer for that row alone; the header is recognised, not scored."""
    lines = (TEST_DATA / "titanic_test.csv").read_text().splitlines()
    assert lines[0] == "Survived,Pclass,Sex,Age" and len(lines) == 269
    labelled = lines[1:]
    unlabelled = [line.split(",", 1)[1] for line in labelled]
    alone = [csv_answer(invoke(server, f"{row}\n"))[0] for row in unlabelled]
    assert len(set(alone)) > 10  # rows that differ get different answers
    whole_file = "\n".join(lines) + "\n"
    for body in (whole_file, "\r\n".join(lines), "\n".join(labelled),
                 "Pclass,Sex,Age\n" + "\n".join(unlabelled), "\n".join(unlabelled) + "\n"):
        assert csv_answer(invoke(server, body)) == alone
    instances = [[int(pclass), sex, float(age) if age else None]
                 for pclass, sex, age in (row.split(",") for row in unlabelled)]
    assert json_answer(invoke(server, json.dumps({"instances": instances}), JSON)) == alone
    # SplitType Line, MultiRecord with a small MaxPayloadInMB: the header in the first request
    # only, every later request lines of the labelled layout.
    batches = [lines[start:start + 50] for start in range(0, len(lines), 50)]
    assert [answer for batch in batches
            for answer in csv_answer(invoke(server, "\n".join(batch) + "\n"))] == alone


@pytest.mark.parametrize(("content_type", "accept", "answer_type"), [
    (CSV, None, CSV), (JSON, None, JSON), (CSV, "*/*", CSV), (JSON, "*/*", JSON),
    (JSON, "text/csv", CSV), (CSV, "application/json", JSON), (JSON, "text/*", CSV),
    (CSV, "text/csv;q=0.2, application/json;q=0.9", JSON),
    (f"{CSV}; charset=utf-8", "application/json; charset=utf-8", JSON),
])
def test_answer_type_follows_accept(server, content_type, accept, answer_type):
    body = ('{"instances": [[1, "female", 29]]}' if content_type == JSON else "1,female,29\n")
    request = server.build_request("POST", "/invocations", content=body.encode(),
                                   headers={"Content-Type": content_type})
    del request.headers["Accept"]
    if accept:
        request.headers["Accept"] = accept
    response = server.send(request)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == answer_type
    answer = json_answer(response) if answer_type == JSON else csv_answer(response)
    assert answer[0][0] == 1 and 0.5 < answer[0][1] <= 1


def test_unsupported_accept_is_406_and_content_type_415(server):
    refused = invoke(server, "1,female,29\n", Accept="text/html")
    assert refused.status_code == 406
    assert "Accept: text/html" in refused.text and "text/csv or application/json" in refused.text
    for content_type in ("text/plain", "application/x-npy", ""):
        response = invoke(server, "1,female,29\n", content_type)
        assert response.status_code == 415
        assert "not supported; send text/csv or application/json" in response.text


@pytest.mark.parametrize(("content_type", "body", "message"), [
    (CSV, "3,male\n", "line 1: 2 columns, expected 3 (Pclass,Sex,Age)"),
    (CSV, "3,male,22,1\n", "line 1 (read as Survived,Pclass,Sex,Age with Survived ignored), "
                           "column Pclass: 'male' is not a number"),
    (CSV, "3,male,22,1,0\n", "line 1: 5 columns, expected 3 (Pclass,Sex,Age) or 4 "
                             "(Survived,Pclass,Sex,Age), or a header line naming the columns"),
    (CSV, "3,male,22\n\n1,female,29,0\n", "line 3: 4 columns, expected 3 (as in line 1: "
                                          "Pclass,Sex,Age)"),
    (CSV, "0,3,male,22\n1,female,29\n", "line 2: 3 columns, expected 4 (as in line 1: "
                                        "Survived,Pclass,Sex,Age with Survived ignored)"),
    (CSV, "Age,Sex,Pclass\n22,male,3\n3,male\n", "line 3: 2 columns, expected 3 (as in the "
                                                 "header, line 1)"),
    (CSV, "3,male,22\n1,female,x\n", "line 2, column Age: 'x' is not a number"),
    (CSV, "Pclass,Sex,Age\n3,male,22\nfirst,male,2\n", "line 3, column Pclass: 'first' is not "
                                                       "a number"),
    (CSV, "4,male,22\n", "line 1, column Pclass: 4 is not one of 1, 2, 3"),
    (CSV, "1,robot,29\n", "line 1, column Sex: 'robot' is not one of female, male"),
    (CSV, "1,female,nan\n", "line 1, column Age: 'nan' is not a finite number"),
    (CSV, "1,female,-inf\n", "line 1, column Age: '-inf' is not a finite number"),
    (CSV, "1,female,-3\n", "line 1, column Age: -3 is outside 0 to 120 years"),
    (CSV, "Pclass,Sex\n1,female\n", "header 'Pclass,Sex' must name each of Pclass,Sex,Age"),
    (CSV, "Pclass,Sex,Age\n", "no data rows"),
    (CSV, "", "empty body"),
    (CSV, " \n\n", "empty body"),
    (CSV, b"1,f\xe9male,29\n", "body is not UTF-8 text: invalid continuation byte at byte 3"),
    (JSON, '{"instances": [', "malformed JSON at line 1 column 16"),
    (JSON, '{"instances": [[1, "female", NaN]]}', "NaN and Infinity are not JSON"),
    (JSON, '{"instances": [[1, "female", 1e400]]}', "numbers must be finite"),
    (JSON, '{"rows": [[1, "female", 29]]}', 'JSON body must be {"instances": [...]}'),
    (JSON, '{"instances": []}', "with at least one instance"),
    (JSON, '{"instances": [[1, "female"]]}', "instance 0: 2 values, expected 3"),
    (JSON, '{"instances": [{"Pclass": 1, "Sex": "female"}, {"Pclass": 1, "age": 3}]}',
     "instance 1: unknown field(s) age; fields are Pclass,Sex,Age"),
    (JSON, '{"instances": [{"Pclass": 1, "Age": 3}]}', "instance 0: missing Sex"),
    (JSON, '{"instances": [["first", "female", 3]]}',
     "instance 0, column Pclass: 'first' is not a number"),
    (JSON, '{"instances": [[true, "female", 3]]}', "instance 0, column Pclass: True is not"),
    (JSON, '{"instances": [[1, "female", "abc"]]}', "instance 0, column Age: 'abc' is not a"),
    (JSON, '{"instances": [[1, null, 3]]}', "instance 0, column Sex: None is not one of"),
    (JSON, '{"instances": [7]}', "instance 0: expected an object {Pclass, Sex, Age} or an "
                                 "array [Pclass,Sex,Age], got int"),
])
def test_bad_payload_is_400_with_what_is_wrong(server, content_type, body, message):
    response = invoke(server, body, content_type)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert message in response.text


def test_garbage_bodies_never_get_a_5xx(server):
    generator = random.Random(0)
    alphabet = b'0123456789,.-\n\r"[]{}:nulNaIfiy emalfx\xff\x00'
    for _ in range(200):
        body = bytes(generator.choice(alphabet) for _ in range(generator.randint(1, 40)))
        for content_type in (CSV, JSON):
            assert invoke(server, body, content_type).status_code in (200, 400)


def test_body_above_6_mb_is_413(server):
    instance = b'{"instances": [[3, "male", 22]]}'
    padded = instance + b" " * (MAX_BODY - len(instance))  # exactly 6 MB
    assert json_answer(invoke(server, padded, JSON))[0][0] == 0
    too_large = invoke(server, padded + b" ", JSON)
    assert too_large.status_code == 413
    assert "larger than 6291456 bytes" in too_large.text
    chunked = server.post("/invocations", content=iter([padded, b" "]),
                          headers={"Content-Type": JSON})
    assert "Content-Length" not in chunked.request.headers
    assert chunked.status_code == 413


@pytest.fixture
def busy_cpus() -> Iterator[None]:
    """Every core kept busy by a spinning subprocess, as on a loaded CI machine."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in os.sched_getaffinity(0)]
    yield
    for spinner in spinners:
        spinner.kill()
        spinner.wait()


MEGABYTE = 1024 * 1024
REFUSED_BODIES = [  # (size, Content-Type, Accept, status, start of the message)
    (MAX_BODY + 1, JSON, "*/*", 413, "body larger than 6291456 bytes (6 MB)"),
    (16 * MEGABYTE, JSON, "*/*", 413, "body larger than 6291456 bytes (6 MB)"),
    (2 * MEGABYTE, "text/plain", "*/*", 415, "Content-Type text/plain is not supported"),
    (2 * MEGABYTE, CSV, "text/html", 406, "cannot answer in Accept: text/html"),
]


def test_every_refused_large_body_gets_its_answer_under_load(server, busy_cpus):
    """Clients write their whole body before they read the answer (http.client here, urllib3 in
    botocore): a server that closes on a body it has not read resets the connection and the
    answer is lost ("Server disconnected"). A connection kept open must stay usable."""
    connection = http.client.HTTPConnection(server.base_url.host, server.base_url.port,
                                            timeout=60)
    outcomes: Counter[str] = Counter()
    for _ in range(50):  # 200 bodies above 6 MB, 200 of 2 MB refused for their headers
        for size, content_type, accept, status, message in REFUSED_BODIES:
            for chunked in (False, True):
                case = f"{'chunked' if chunked else 'Content-Length'} {size} bytes -> {status}"
                body = b"1,female,29\n" * (size // 12) + b" " * (size % 12)
                try:
                    connection.request(
                        "POST", "/invocations", encode_chunked=chunked,
                        headers={"Content-Type": content_type, "Accept": accept},
                        body=iter([body[start:start + MEGABYTE]
                                   for start in range(0, size, MEGABYTE)]) if chunked else body)
                    refused = connection.getresponse()
                    answer = refused.read().decode()
                    connection.request("GET", "/ping")
                    ping = connection.getresponse()
                    ping.read()
                except (OSError, http.client.HTTPException) as error:
                    connection.close()
                    outcomes[f"{case}: {type(error).__name__}"] += 1
                    continue
                assert answer.startswith(message)
                outcomes[f"{case}: {refused.status}, then ping {ping.status}"] += 1
    connection.close()
    assert outcomes == {f"{kind} {size} bytes -> {status}: {status}, then ping 200": 50
                        for size, _, _, status, _ in REFUSED_BODIES
                        for kind in ("Content-Length", "chunked")}


def test_ping_and_other_routes(server, trained):
    ping = server.get("/ping")
    assert ping.status_code == 200
    assert ping.json()["model_version"] == json.loads(
        (trained.model_dir / "metadata.json").read_text())["model_version"]
    wrong_method = server.get("/invocations")
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    assert server.get("/predict").status_code == 404


def test_serve_without_a_model_exits_with_the_reason(tmp_path):
    done = run("serve", SM_MODEL_DIR=tmp_path, MODEL_SERVER_HOST="127.0.0.1",
               SAGEMAKER_BIND_TO_PORT=str(free_port()), SAGEMAKER_MODEL_SERVER_WORKERS="1")
    assert done.returncode != 0
    assert f"cannot load the model: cannot read the model in {tmp_path}" in done.stderr


@pytest.mark.parametrize(("variable", "value"), [("SAGEMAKER_BIND_TO_PORT", "http"),
                                                 ("SAGEMAKER_MODEL_SERVER_WORKERS", "0")])
def test_bad_server_setting_exits_with_the_reason(trained, variable, value):
    done = run("serve", SM_MODEL_DIR=trained.model_dir, **{variable: value})
    assert done.returncode == 2
    assert f"{variable}={value!r} must be an integer" in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_server_drops_root_for_the_configured_user():
    code = ("from titanic.serve import drop_privileges; import os; drop_privileges('nobody'); "
            "print(os.getuid(), os.getgid(), os.getgroups())")
    done = subprocess.run([sys.executable, "-c", code], cwd=MODEL_DIR, capture_output=True,
                          text=True, timeout=60, check=True)
    nobody = pwd.getpwnam("nobody")
    assert done.stdout.split(maxsplit=2) == [str(nobody.pw_uid), str(nobody.pw_gid), "[]\n"]
