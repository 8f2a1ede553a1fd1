"""Certificates for the Kubernetes test engine, made fresh at every start.

One CA signs the API server's serving certificate and the client certificates
(the admin in ``system:masters``, and a plain user whose rights come from RBAC);
kwok's kubelet endpoint gets a self-signed pair (the API server does not verify
it), and the service-account signing key is a bare RSA key.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class CertPair:
    """A certificate and its key, as PEM files."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    """Every file the engine's processes and clients need."""

    ca: CertPair
    apiserver: CertPair
    kwok: CertPair
    admin: CertPair
    user: CertPair
    sa_key: Path
    sa_pub: Path


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common: str, org: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if org:
        parts.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(parts)


def _write(directory: Path, stem: str, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> CertPair:
    pair = CertPair(directory / f"{stem}.crt", directory / f"{stem}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    pair.key.chmod(0o600)
    return pair


def _builder(
    subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


def _alt_names(dns: list[str]) -> x509.SubjectAlternativeName:
    ips: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    return x509.SubjectAlternativeName(ips + [x509.DNSName(d) for d in dns])


def make_pki(directory: Path) -> Pki:
    """Write a CA, serving and client certificates and the service-account key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name("skyk8s-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def signed(
        stem: str, subject: x509.Name, usage: x509.ObjectIdentifier, dns: list[str]
    ) -> CertPair:
        key = _key()
        builder = _builder(subject, ca_name, key).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if dns:
            builder = builder.add_extension(_alt_names(dns), critical=False)
        return _write(directory, stem, builder.sign(ca_key, hashes.SHA256()), key)

    server_dns = ["localhost", "kubernetes", "kubernetes.default.svc"]
    kwok_key = _key()
    kwok_cert = (
        _builder(_name("localhost"), _name("localhost"), kwok_key)
        .add_extension(_alt_names(["localhost"]), critical=False)
        .sign(kwok_key, hashes.SHA256())
    )
    sa = _key()
    sa_key, sa_pub = directory / "sa.key", directory / "sa.pub"
    sa_key.write_bytes(
        sa.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    sa_pub.write_bytes(
        sa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return Pki(
        ca=_write(directory, "ca", ca_cert, ca_key),
        apiserver=signed(
            "apiserver", _name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, server_dns
        ),
        kwok=_write(directory, "kwok", kwok_cert, kwok_key),
        admin=signed(
            "admin", _name("skyk8s-admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH, []
        ),
        user=signed(
            "user", _name("skyk8s-user", "skyk8s-users"), ExtendedKeyUsageOID.CLIENT_AUTH, []
        ),
        sa_key=sa_key,
        sa_pub=sa_pub,
    )
