"""The testing layer: the pytest plugin, the in-process transport and the test-facing API.

It sits on top of the server (it runs the same Starlette app) and never the other way round.
"""
