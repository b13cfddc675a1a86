"""Local AzureML emulator: an HTTPS server the unchanged azure-ai-ml SDK talks to (see docs/emulator.md).

Start it with `python -m devstack.emulator --world FILE` or, from Python, `launch.start_emulator`.
"""
