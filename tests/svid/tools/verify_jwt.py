#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Independent check of a JWT-SVID with PyJWT and Python cryptography (not our code).

Loads a SPIFFE bundle (Lanyard's toSpiffeJson output), checks every x509-svid entry against its
x5c certificate (BUNDLE-5), picks the jwt-svid key by the token's kid (JWT-4) and verifies the
token with PyJWT: alg allow-list (JWT-2), header members and typ (JWT-3), signature, audience
(JWT-6), exp required (JWT-7) and sub a SPIFFE ID (JWT-5). Exits 0 when valid, 1 when not,
printing why.
"""
import argparse
import base64
import binascii
import json
import sys

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

ALLOWED_ALGS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]


def spki(key):
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def check_x509_entries(keys):
    """BUNDLE-5: one x5c certificate, no kid, key members describing the certificate's key."""
    count = 0
    for entry in keys:
        if entry.get("use") != "x509-svid":
            continue
        if "kid" in entry:
            raise ValueError("x509-svid entry has a kid")
        x5c = entry.get("x5c")
        if not isinstance(x5c, list) or len(x5c) != 1:
            raise ValueError("x509-svid entry needs exactly one x5c certificate")
        cert = x509.load_der_x509_certificate(base64.b64decode(x5c[0], validate=True))
        jwk_key = jwt.PyJWK(entry).key
        if spki(jwk_key) != spki(cert.public_key()):
            raise ValueError("x509-svid key members do not match the x5c certificate")
        count += 1
    return count


def verify(args):
    with open(args.jwks, encoding="utf-8") as f:
        bundle = json.load(f)
    with open(args.token_file, encoding="utf-8") as f:
        token = f.read().strip()
    keys = bundle["keys"]
    x509_count = check_x509_entries(keys)

    header = jwt.get_unverified_header(token)
    extra = set(header) - {"alg", "kid", "typ"}
    if extra:
        raise ValueError("header members other than alg, kid and typ: %s" % sorted(extra))
    if "typ" in header and header["typ"] not in ("JWT", "JOSE"):
        raise ValueError("typ %r is not JWT or JOSE" % header["typ"])
    kid = header.get("kid")
    if not kid:
        raise ValueError("header has no kid")
    matches = [k for k in keys if k.get("use") == "jwt-svid" and k.get("kid") == kid]
    if len(matches) != 1:
        raise ValueError("no single jwt-svid key with kid %r" % kid)
    key = jwt.PyJWK(matches[0]).key

    claims = jwt.decode(token, key=key, algorithms=ALLOWED_ALGS, audience=args.audience,
                        options={"require": ["exp", "sub", "aud"]})
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub.startswith("spiffe://"):
        raise ValueError("sub is not a SPIFFE ID")
    if args.expect_sub is not None and sub != args.expect_sub:
        raise ValueError("sub %r is not %r" % (sub, args.expect_sub))
    return "alg=%s kid=%s sub=%s aud=%s x509_keys=%d" % (header["alg"], kid, sub,
                                                          claims["aud"], x509_count)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jwks", required=True, help="SPIFFE bundle JSON file")
    parser.add_argument("--audience", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--expect-sub")
    args = parser.parse_args()
    try:
        result = verify(args)
    except (jwt.PyJWTError, ValueError, KeyError, TypeError, binascii.Error) as e:
        print("invalid: %s: %s" % (type(e).__name__, e))
        return 1
    print("valid: " + result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
