"""One scoring request, the way AzureML's inference server runs a deployment's `score.py`: `init()` once,
then `run(raw_data)` with the request body as text. Started by `scoring.py` as
`python -I score_runner.py CODE_DIR SCRIPT RESULT_FILE` with the body on stdin and `AZUREML_MODEL_DIR` set;
it writes `{"ok": true, "output": ...}` or `{"ok": false, "stage": ..., "error": ...}` to RESULT_FILE.

The user's code gets no network: an audit hook refuses every socket connection, bind and name lookup.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

BLOCKED = ("socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto")


def no_network(event: str, args: tuple[Any, ...]) -> None:
    if event in BLOCKED:
        raise PermissionError(f"network access is disabled for scoring scripts ({event})")


def main() -> int:
    code_dir, script, result_file = sys.argv[1:4]
    raw = sys.stdin.read()
    sys.addaudithook(no_network)
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)
    stage = "load"
    try:
        spec = importlib.util.spec_from_file_location("score", Path(code_dir) / script)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"scoring script {script} not found")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        stage = "init"
        module.init()
        stage = "run"
        output = module.run(raw)
        result = {"ok": True, "output": json.dumps(output)}
    except BaseException:  # any failure of the user code is the answer
        result = {"ok": False, "stage": stage, "error": traceback.format_exc(limit=5)}
    Path(result_file).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
