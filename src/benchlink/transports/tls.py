"""TLS contexts from a device's transport settings (server or client, optional mTLS)."""

from __future__ import annotations

import ssl
from typing import Protocol

from benchlink.transports.base import TransportError


class TlsSettings(Protocol):
    tls_cert: str
    tls_key: str
    tls_ca: str
    tls_verify: bool


def wants_tls(t: TlsSettings) -> bool:
    return bool(t.tls_cert or t.tls_ca)


def server_context(t: TlsSettings) -> ssl.SSLContext:
    """Our certificate; with ``tls_ca`` and verify on, clients must present one signed by it (mTLS)."""
    if not t.tls_cert:
        raise TransportError("a TLS server needs tls_cert (and tls_key) in [device.transport]")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(t.tls_cert, t.tls_key or None)
        if t.tls_ca:
            ctx.load_verify_locations(t.tls_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED if t.tls_verify else ssl.CERT_OPTIONAL
    except (OSError, ssl.SSLError) as exc:
        raise TransportError(f"cannot load TLS files ({t.tls_cert}, {t.tls_key}, {t.tls_ca}): {exc}") from exc
    return ctx


def client_context(t: TlsSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=t.tls_ca or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not t.tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        if t.tls_cert:
            ctx.load_cert_chain(t.tls_cert, t.tls_key or None)
    except (OSError, ssl.SSLError) as exc:
        raise TransportError(f"cannot load TLS client certificate {t.tls_cert}: {exc}") from exc
    return ctx
