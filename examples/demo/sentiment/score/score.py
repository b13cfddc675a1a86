"""Scoring script of the demo's tiny sentiment model, the way AzureML runs one: `init()` once, then
`run(raw_data)` per request with the request body as text. The model is a bag-of-words logistic
regression: weights.json in the model's folder under AZUREML_MODEL_DIR (AzureML puts a registered
model's files at AZUREML_MODEL_DIR/<model folder>/). Standard library only.
"""

import json
import math
import os
import re
from pathlib import Path
from typing import Any

model: dict[str, Any] = {}


def init() -> None:
    weights = next(Path(os.environ["AZUREML_MODEL_DIR"]).rglob("weights.json"))
    model.update(json.loads(weights.read_text(encoding="utf-8")))


def run(raw_data: str) -> list[dict[str, Any]]:
    """{"data": ["text", ...]} -> one prediction per text."""
    return [predict(text) for text in json.loads(raw_data)["data"]]


def predict(text: str) -> dict[str, Any]:
    words = re.findall(r"[a-z']+", text.lower())
    score = model["bias"] + sum(model["weights"].get(word, 0.0) for word in words)
    positive = 1 / (1 + math.exp(-score))
    return {
        "text": text,
        "label": "positive" if positive >= 0.5 else "negative",
        "probability": round(positive if positive >= 0.5 else 1 - positive, 3),
        "model_release": model["release"],
    }
