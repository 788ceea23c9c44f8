"""The model is accurate enough on rows it never saw in training (the held-out test split)."""

from __future__ import annotations

BATCH = 100


def test_accuracy_on_the_test_split_meets_the_stage_floor(runtime, endpoint, held_out, gate,
                                                          metrics):
    predicted = []
    for start in range(0, len(held_out), BATCH):
        batch = held_out[start:start + BATCH]
        answer = metrics.invoke(runtime, endpoint, [p.instance() for p in batch])
        assert len(answer["predictions"]) == len(batch), "one prediction per instance"
        predicted += [p["survived"] for p in answer["predictions"]]
    correct = sum(guess == row.survived for guess, row in zip(predicted, held_out, strict=True))
    metrics.accuracy = correct / len(held_out)
    assert metrics.accuracy >= gate.accuracy_floor, (
        f"accuracy {metrics.accuracy:.3f} ({correct}/{len(held_out)} held-out rows) is under "
        f"the {gate.stage} floor {gate.accuracy_floor}")
