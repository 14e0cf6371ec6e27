#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Independent check of an X.509-SVID with Python cryptography (not our code).

Reads the Workload API encodings (chain and bundle as concatenated DER, WAPI-10/BUNDLE-10),
checks the leaf profile (X509-1/2/4/5) and that each certificate is signed by the next one,
the last by a bundle authority. Exits 0 when valid, 1 when not, printing why.
"""
import argparse
import sys

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


def split_der(data):
    """Splits back-to-back DER certificates using the outer SEQUENCE lengths."""
    certs, i = [], 0
    while i < len(data):
        if data[i] != 0x30:
            raise ValueError("not a DER SEQUENCE at offset %d" % i)
        n = data[i + 1]
        if n < 0x80:
            length, hdr = n, 2
        else:
            k = n & 0x7F
            length, hdr = int.from_bytes(data[i + 2:i + 2 + k], "big"), 2 + k
        certs.append(x509.load_der_x509_certificate(data[i:i + hdr + length]))
        i += hdr + length
    return certs


def signed_by(cert, issuer):
    key = issuer.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes,
                       ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                       cert.signature_hash_algorithm)
        else:
            return False
    except Exception:  # noqa: BLE001 - any failure means "not signed by"
        return False
    return cert.issuer == issuer.subject


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chain-der", required=True)
    ap.add_argument("--bundle-der", required=True)
    ap.add_argument("--expect-id", required=True)
    args = ap.parse_args()
    chain = split_der(open(args.chain_der, "rb").read())
    roots = split_der(open(args.bundle_der, "rb").read())
    leaf = chain[0]
    uris = leaf.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.UniformResourceIdentifier)
    if uris != [args.expect_id]:
        print("leaf URI SANs %r, want [%r]" % (uris, args.expect_id))
        return 1
    bc = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    if not bc.critical or bc.value.ca or not ku.critical or not ku.value.digital_signature \
            or ku.value.key_cert_sign or ku.value.crl_sign:
        print("leaf basic constraints or key usage wrong")
        return 1
    for cert, issuer in zip(chain, chain[1:]):
        if not signed_by(cert, issuer):
            print("%s is not signed by %s" % (cert.subject, issuer.subject))
            return 1
    if not any(signed_by(chain[-1], r) for r in roots):
        print("chain does not end at a bundle authority")
        return 1
    print("ok: %s" % args.expect_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
