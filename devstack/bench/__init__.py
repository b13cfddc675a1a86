"""RegSync benchmarks: `make bench` (= `python -m devstack.bench`; `--help` for the sizes, `--quick` for
a smoke run, `--json` for one JSON document). They print tables; they are not pass/fail tests
(tests/e2e/test_bench.py only smoke-runs `--quick --json`). Method and numbers: docs/benchmarks.md.

On a stack they start and stop themselves (Azurite and the AzureML emulator on a generated world; the
engine driven in-process as the triggers would, with the real azure-ai-ml SDK), by concept:

- `propagation` (with `naive`): one model to N targets at injected latency, against the operator's script;
- `reconcile`: idle reconcile at growing inventories; `crash`: recovery after a host crash;
- `faults`: convergence with 429/503 injected; `imports`: `import function_app`; `decide`: pure planning;
- `report`: the one goals table and its detail; `stack`: what they all run on.
"""
