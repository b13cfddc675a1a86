"""`make demo` (`python -m devstack.demo`): RegSync's stories, played on the local stack through the real SDK.

Brings up Azurite, the AzureML emulator and the local Functions host (devstack.stack.local_stack), loads
examples/seed-policy.yaml and examples/demo/policy.yaml with `regsync policy load`, then acts as the
tenants would, with azure-ai-ml MLClients on the emulator; RegSync (the Functions app on the local host,
woken by the emulator's Event Grid events and by the reconcile) does the rest. The acts:

- seed.py: sharing, privacy, region refusal and the reconcile (acts 1-6);
- inference.py: a model served from an online endpoint RegSync deploys, invoked through the SDK, and a
  deployment that fails on purpose while the old one keeps serving (acts 7-8);
- promotion.py: dev -> test automatically, -> prod after `regsync approve`, lineage back to the
  training job (act 9);
- recall.py: a bad version recalled fleet-wide, the endpoint's traffic back on the previous version
  (act 10).

Each step waits with a deadline, polling the ledger, the audit trail or the endpoint, then checks the
outcome (PASS/FAIL). At the end it prints `regsync status` and `regsync audit`, stops everything it
started (with `--keep`: after Ctrl-C) and exits 0 only if every check held. Also run by
tests/e2e/test_demo.py.
"""

from devstack.demo.run import main

__all__ = ["main"]
