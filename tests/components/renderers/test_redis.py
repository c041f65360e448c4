from __future__ import annotations

import pytest

from components.renderers.redis import render_redis_config


def test_cache_is_bounded_unpersisted_and_password_protected() -> None:
    lines = render_redis_config(password="pw123", port=6390, bind="127.0.0.1").splitlines()
    assert 'requirepass "pw123"' in lines
    assert "maxmemory-policy allkeys-lru" in lines
    assert 'save ""' in lines and "appendonly no" in lines
    assert "port 6390" in lines and "bind 127.0.0.1" in lines


@pytest.mark.parametrize("password", ["", "has space", 'has"quote'])
def test_rejects_passwords_redis_conf_cannot_hold(password: str) -> None:
    with pytest.raises(ValueError):
        render_redis_config(password=password)
