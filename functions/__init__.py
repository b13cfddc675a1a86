"""Thin trigger adapters: parse the binding's input, call the engine once, map the result to a reply.

No business logic lives here; the error taxonomy is mapped once per trigger (see shared.errors).
"""
