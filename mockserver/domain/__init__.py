"""The domain layer: tasks, their lifecycle, validation, settings and the backend.

Nothing here imports Starlette, uvicorn or httpx; time and randomness are injected.
"""
