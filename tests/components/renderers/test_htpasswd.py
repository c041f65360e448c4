"""SHA-512-crypt as glibc computes it (nginx verifies with glibc's crypt)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from components.renderers.htpasswd import ROUNDS, render_htpasswd, sha512_crypt


@pytest.mark.parametrize("password", ["hunter2", "x" * 32, "pässwörd", "a" * 130])
def test_matches_openssl_passwd_6(password: str) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed (apt-get install openssl)"
    expected = subprocess.run(
        [openssl, "passwd", "-6", "-salt", "Zq8sY1pw3Xa0bC7d", password], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert sha512_crypt(password, "Zq8sY1pw3Xa0bC7d", rounds=5000) == expected


def test_known_vector_with_rounds() -> None:
    # from the SHA-crypt specification's test vectors
    assert sha512_crypt("Hello world!", "saltstringsaltst", rounds=10000) == (
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/"
        "YTBmSK6H9qs/y3RnOaw5v."
    )


def test_default_rounds_and_salt_per_user() -> None:
    """Generated passwords (~190 bits) are hashed with the least glibc accepts: under 1 ms per request."""
    assert ROUNDS == 1000
    assert sha512_crypt("pw", "salt1").startswith("$6$rounds=1000$salt1$")
    assert sha512_crypt("pw", "salt1") != sha512_crypt("pw", "salt2")


@pytest.mark.parametrize(("salt", "rounds"), [("", 5000), ("bad salt", 5000), ("ok", 999)])
def test_rejects_bad_parameters(salt: str, rounds: int) -> None:
    with pytest.raises(ValueError):
        sha512_crypt("pw", salt, rounds)


def test_htpasswd_lines_sorted_and_validated() -> None:
    assert render_htpasswd({"dev": "$6$b", "ci": "$6$a"}) == "ci:$6$a\ndev:$6$b\n"
    with pytest.raises(ValueError, match="cannot appear"):
        render_htpasswd({"a:b": "$6$x"})
