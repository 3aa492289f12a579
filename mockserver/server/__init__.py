"""The server layer: the Starlette app that puts the domain on HTTP."""
