"""HTTPS for the emulator: a throwaway certificate authority, made fresh for each fake.

The real API and its storage host speak HTTPS only, and some clients refuse anything
else (the official CLI will not download an export from a plain-http link). With
``FakeProlific(tls=True)`` the fake serves HTTPS with a certificate signed by a CA made
for it by `trustme <https://trustme.readthedocs.io>`_, the test-certificate library of
the python-trio project. Nothing is added to the system's trust store: clients trust the
CA explicitly, through its PEM file (``SSL_CERT_FILE=...`` for most tools, a context
from :meth:`ThrowawayCA.client_context` for Python). The file is deleted when the fake
stops, and the CA's key never touches the disk.

trustme is an optional dependency: ``pip install 'prolific-async[tls]'`` (the ``test``
extra pulls it in).
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Final

__all__ = ["MISSING_TRUSTME", "ThrowawayCA", "certificate_hosts"]

MISSING_TRUSTME: Final = (
    "FakeProlific(tls=True) makes its certificates with the trustme package, which is "
    "not installed: pip install 'prolific-async[tls]'"
)

#: Names a loopback client may use to reach the fake, whatever the host it listens on.
_LOOPBACK_NAMES: Final = ("127.0.0.1", "::1", "localhost")


def certificate_hosts(host: str) -> list[str]:
    """The names the server certificate covers: the loopback names, plus ``host``.

    A wildcard ``host`` (``0.0.0.0``, ``::``) is covered too: it is the host of the
    fake's :attr:`~FakeProlific.url` then, and clients on this machine connect to it.
    """
    names = list(_LOOPBACK_NAMES)
    if host and host not in names:
        names.append(host)
    return names


class ThrowawayCA:
    """A CA that lives as long as one fake, and the server certificate it signed.

    Args:
        hosts: the names and addresses the server certificate is valid for.

    Raises:
        ImportError: trustme is not installed (the message names the extra).
    """

    def __init__(self, hosts: Iterable[str]) -> None:
        try:
            import trustme
        except ImportError as exc:
            raise ImportError(MISSING_TRUSTME, name="trustme") from exc
        # In memory, and a few milliseconds (ECDSA keys): made when the fake is.
        self._ca = trustme.CA(organization_name="prolific_async emulator")
        self._certificate = self._ca.issue_cert(*hosts)
        self._folder: Path | None = None

    @property
    def ca_file(self) -> Path | None:
        """The CA's certificate as a PEM file, once written; ``None`` before or after."""
        if self._folder is None:
            return None
        return self._folder / "ca.pem"

    def write_ca_file(self) -> Path:
        """Write the CA's certificate (never its key) to a new private folder; return it."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="prolific-fake-ca-"))
            self._ca.cert_pem.write_to_path(str(self._folder / "ca.pem"))
        return self._folder / "ca.pem"

    def delete_ca_file(self) -> None:
        """Delete the PEM file and its folder; idempotent."""
        folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting the certificate (TLS 1.2 at least)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._certificate.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this CA (and only it)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, host names checked
        self._ca.configure_trust(context)
        return context
