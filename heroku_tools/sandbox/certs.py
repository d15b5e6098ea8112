"""A private certificate authority for the sandbox's TLS endpoints.

The heroku CLI refuses plain ``http:`` backup URLs and verifies the ``heroku run``
rendezvous certificate, and git talks HTTPS to the git host, so the sandbox serves
TLS with a leaf certificate for ``127.0.0.1``/``localhost`` signed by its own CA;
the same certificate covers ``*.herokuapp.localhost``, the apps' ``web_url`` hosts
that the router serves (see :mod:`heroku_tools.sandbox.router`).
Clients trust that CA through ``NODE_EXTRA_CA_CERTS`` (node) and a URL-scoped
``http.<url>.sslCAInfo`` (git) — nothing is added to the system trust store.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: The names the leaf certificate covers: the API and git host, and every app's web host.
APPS_DOMAIN = "herokuapp.localhost"
DNS_NAMES = ("localhost", f"*.{APPS_DOMAIN}")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def ensure_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """Return ``(ca_pem, cert_pem, key_pem)``, creating them on first use.

    They are kept with the sandbox's state so that a restarted sandbox keeps the
    CA its clients were told to trust. A leaf made before it covered the apps'
    hosts is made again, with a new CA at the same path (clients read it anew).
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca_pem, cert_pem, key_pem = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    if ca_pem.exists() and cert_pem.exists() and key_pem.exists() and _covers_apps(cert_pem):
        return ca_pem, cert_pem, key_pem

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "heroku-tools sandbox CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [*(x509.DNSName(name) for name in DNS_NAMES), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(
        key_pem,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return ca_pem, cert_pem, key_pem


def _covers_apps(cert_pem: Path) -> bool:
    """Whether the leaf names every host of :data:`DNS_NAMES` (one from an older sandbox does not)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except (ValueError, x509.ExtensionNotFound):
        return False
    return set(DNS_NAMES) <= set(names)
