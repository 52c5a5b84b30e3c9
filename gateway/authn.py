"""Verifying a presented API key: a short-lived cache in front of the gateway's database."""

import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.keys.service import KeyRecord, StoredKey, find_key, matches, split_key


class KeyAuthenticator:
    """Looks a key up by its public id, then compares SHA-256 digests in constant time.

    Lookups (found or not) are cached for `cache_seconds`, so a revocation reaches a running gateway within
    that time; 0 disables the cache.
    """

    MAX_CACHED = 10_000

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], cache_seconds: float) -> None:
        self.sessionmaker = sessionmaker
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[StoredKey | None, float]] = {}

    async def authenticate(self, key: str) -> KeyRecord | None:
        key_id = split_key(key)
        if key_id is None:
            return None
        stored = await self._lookup(key_id)
        if stored is None or not matches(key, stored):
            return None
        return stored.record

    async def _lookup(self, key_id: str) -> StoredKey | None:
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self.sessionmaker() as session:
            stored = await find_key(session, key_id)
        if self.cache_seconds > 0:
            if len(self._cache) >= self.MAX_CACHED:
                self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
                if len(self._cache) >= self.MAX_CACHED:
                    self._cache.clear()
            self._cache[key_id] = (stored, now + self.cache_seconds)
        return stored

    def forget(self) -> None:
        self._cache.clear()
