"""Reading a request body at the ASGI level, bounded: the gateway and every service read bodies whole before the
app sees them (the gateway to send them on whole, a service to check the signature over their hash)."""

from collections.abc import AsyncIterator

from starlette.types import Receive


class ClientGone(Exception):
    """The client went away before its body had arrived."""


class BodyTooLarge(Exception):
    """More bytes arrived than the limit allows (the rest is not read)."""


async def body_chunks(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    """The body's pieces as they arrive, at most `limit` bytes in all."""
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk: bytes = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge()
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return
