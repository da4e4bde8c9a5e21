"""A throwaway CA and server certificate, so HTTPS runs with validation on; and, for certificate
authentication, a client certificate the listener maps to the simulator's account.

The inventory the simulator writes points `ansible_winrm_ca_trust_path` at
the CA file: users rehearse with the same setting production needs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "enforcer simulator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")  # the user principal name in a certificate's SAN


def make_server_context(directory: str, hosts: list[str], client_user: str | None = None
                        ) -> tuple[ssl.SSLContext, str]:
    """Write ca.pem, server.pem and server.key under `directory`; return (server context, CA path). With
    `client_user`, also client.pem and client.key, a client certificate for that user, which the server asks
    for (certificate authentication, as a WinRM listener with Service\\Auth\\Certificate on does)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder().subject_name(_name("enforcer simulator CA")).issuer_name(
        _name("enforcer simulator CA")).public_key(ca_key.public_key()).serial_number(
        x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(
        now + dt.timedelta(days=30)).add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256()))

    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(hosts[0] if hosts else "localhost")).issuer_name(
        ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256()))

    ca_path = os.path.join(directory, "ca.pem")
    cert_path = os.path.join(directory, "server.pem")
    key_path = os.path.join(directory, "server.key")
    with open(ca_path, "wb") as fh:
        fh.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    if client_user:
        _write_client_certificate(directory, ca_cert, ca_key, client_user, now)
        context.verify_mode = ssl.CERT_OPTIONAL  # asked for; a request without one is refused by authentication
        context.load_verify_locations(ca_path)
    return context, ca_path


def _write_client_certificate(directory: str, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
                              user: str, now: dt.datetime) -> None:
    """client.pem and client.key: EKU client auth, the UPN `user@localhost` in the SAN, as Windows maps a
    certificate to a local account (windows-facts §6.5)."""
    upn = f"{user}@localhost".encode()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(user)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.OtherName(UPN_OID, b"\x0c" + bytes([len(upn)]) + upn)]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    with open(os.path.join(directory, "client.pem"), "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.open(os.path.join(directory, "client.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


def certificate_user(der: bytes | None) -> str | None:
    """The user a client certificate names: the UPN in its SAN, without its domain; None when there is none."""
    if not der:
        return None
    try:
        names = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (ValueError, x509.ExtensionNotFound):
        return None
    for other in names.value.get_values_for_type(x509.OtherName):
        if other.type_id == UPN_OID and other.value[:1] == b"\x0c":
            return other.value[2:].decode("utf-8", "replace").partition("@")[0]
    return None
