"""`make bench`: every performance figure, printed as JSON. Each module here exposes `async def run() -> dict`."""
