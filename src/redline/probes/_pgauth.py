"""Logging in to PostgreSQL: answers to the server's authentication requests.

Trust (nothing to answer), a cleartext password, MD5, and SCRAM-SHA-256 without channel
binding (the ``n,,`` header), whose final message proves the server knows the password
too: a wrong server signature is an error, not a login.

>>> auth = Authenticator("app", "s3cret")
>>> auth.answer(3, b"")  # AuthenticationCleartextPassword
b's3cret\\x00'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct

from redline.probes._pgwire import PasswordRequired, WireError

__all__ = ["Authenticator"]


class Authenticator:
    """Answers the server's authentication requests (R messages) for one login."""

    def __init__(self, user: str, password: str | None) -> None:
        self._user = user
        self._password = password
        self._scram: _Scram | None = None

    def answer(self, code: int, data: bytes) -> bytes | None:
        """The PasswordMessage body for request ``code`` (``data`` follows it), or None."""
        if code == 0:  # AuthenticationOk
            if self._scram and not self._scram.verified:
                raise WireError("the server ended SCRAM without proving it knows the password")
            return None
        if code == 12 and self._scram:  # SASLFinal
            self._scram.verify(data)
            return None
        if code == 11 and self._scram:  # SASLContinue
            return self._scram.final(data)
        if code not in (3, 5, 10):
            raise WireError(f"the server asks for authentication method {code}: not supported")
        if not self._password:  # as libpq, an empty password is none
            raise PasswordRequired("no password supplied")
        if code == 3:  # cleartext
            return self._password.encode() + b"\0"
        if code == 5:  # MD5: md5(md5(password + user) + salt)
            inner = hashlib.md5(f"{self._password}{self._user}".encode(), usedforsecurity=False)
            outer = hashlib.md5(inner.hexdigest().encode() + data[:4], usedforsecurity=False)
            return b"md5" + outer.hexdigest().encode() + b"\0"
        if b"SCRAM-SHA-256" not in data.split(b"\0"):
            raise WireError("the server offers no SASL mechanism the probe has (SCRAM-SHA-256)")
        self._scram = _Scram(self._password)
        first = self._scram.first()
        return b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first


class _Scram:
    """SCRAM-SHA-256 (RFC 5802/7677) without channel binding, as a PostgreSQL client."""

    def __init__(self, password: str) -> None:
        self._password = _saslprep(password)
        self._nonce = base64.b64encode(secrets.token_bytes(18)).decode()
        self._first_bare = f"n=,r={self._nonce}"  # the server takes the user from the startup
        self._auth_message = b""
        self._server_key = b""
        self.verified = False

    def first(self) -> bytes:
        return f"n,,{self._first_bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        attributes = _attributes(server_first)
        nonce = attributes.get("r", "")
        if not nonce.startswith(self._nonce) or nonce == self._nonce:
            raise WireError("the server's SCRAM nonce is invalid")
        try:
            salt, iterations = base64.b64decode(attributes["s"]), int(attributes["i"])
        except (KeyError, ValueError):
            raise WireError("the server sent a malformed SCRAM message") from None
        salted = hashlib.pbkdf2_hmac("sha256", self._password, salt, iterations)
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = f"c=biws,r={nonce}"  # biws: base64 of the "n,," header
        self._auth_message = f"{self._first_bare},{server_first.decode()},{without_proof}".encode()
        stored_key = hashlib.sha256(client_key).digest()
        signature = hmac.digest(stored_key, self._auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self._server_key = hmac.digest(salted, b"Server Key", "sha256")
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> None:
        attributes = _attributes(server_final)
        if "e" in attributes:
            raise WireError(f"SCRAM authentication failed: {attributes['e']}")
        expected = hmac.digest(self._server_key, self._auth_message, "sha256")
        try:
            signature = base64.b64decode(attributes.get("v", ""), validate=True)
        except ValueError:
            signature = b""
        if not hmac.compare_digest(signature, expected):
            raise WireError(
                "the server's SCRAM signature is wrong: it does not know the password "
                "(is something else answering for PostgreSQL?)"
            )
        self.verified = True


def _attributes(message: bytes) -> dict[str, str]:
    try:
        return dict(item.split("=", 1) for item in message.decode().split(","))
    except ValueError:
        raise WireError("the server sent a malformed SCRAM message") from None


def _saslprep(password: str) -> bytes:
    """The password as SCRAM hashes it (RFC 4013, as PostgreSQL does when it stores one)."""
    if password.isascii():
        return password.encode()
    import stringprep
    import unicodedata

    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c for c in password if not stringprep.in_table_b1(c)
    )
    return unicodedata.normalize("NFKC", mapped).encode()
