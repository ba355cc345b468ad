"""A Redis cache that fails soft: when Redis is unreachable a read is a miss and a write is
dropped, so pages and the API keep serving (slower) instead of failing with it."""

from __future__ import annotations

import logging

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class ReusingRedisCacheClient(RedisCacheClient):
    """Django's client makes a new redis.Redis object for every cache call, and redis-py
    builds its table of response callbacks in each one: about a tenth of a cached page's
    time. One object per connection pool serves every call (it is thread-safe)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient

    def _soft(self, method: str, fallback, *args, **kwargs):
        try:
            return getattr(super(), method)(*args, **kwargs)
        except RedisError as exc:
            logger.warning("cache %s failed, carrying on without it: %s", method, exc)
            return fallback

    def get(self, key, default=None, version=None):
        return self._soft("get", default, key, default, version)

    def get_many(self, keys, version=None):
        return self._soft("get_many", {}, keys, version)

    def set(self, key, value, timeout=None, version=None):  # noqa: A003
        return self._soft("set", None, key, value, timeout, version)

    def set_many(self, data, timeout=None, version=None):
        return self._soft("set_many", list(data), data, timeout, version)

    def add(self, key, value, timeout=None, version=None):
        return self._soft("add", False, key, value, timeout, version)

    def delete(self, key, version=None):
        return self._soft("delete", False, key, version)

    def has_key(self, key, version=None):
        return self._soft("has_key", False, key, version)

    def incr(self, key, delta=1, version=None):
        return self._soft("incr", delta, key, delta, version)

    def clear(self):
        return self._soft("clear", False)
