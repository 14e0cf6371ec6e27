# SPDX-License-Identifier: Apache-2.0
"""Independent verifiers: what the daemon sends is checked with the openssl CLI, Python
`cryptography` and PyJWT, never with our own C++ code."""
import base64
import json
import os
import subprocess

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

from harness import Failure, check

SPKI = dict(encoding=serialization.Encoding.DER,
            format=serialization.PublicFormat.SubjectPublicKeyInfo)


def _der_length(blob, i):
    """(header length, content length) of the DER element at blob[i]."""
    check(i + 2 <= len(blob), "truncated DER header at offset %d" % i)
    first = blob[i + 1]
    if first < 0x80:
        return 2, first
    n = first & 0x7F
    check(1 <= n <= 4 and i + 2 + n <= len(blob), "bad DER length at offset %d" % i)
    return 2 + n, int.from_bytes(blob[i + 2:i + 2 + n], "big")


def split_der(blob, what):
    """Splits back-to-back DER SEQUENCEs (WAPI-10: not PEM, nothing between them)."""
    check(blob, "%s is empty" % what)
    check(not blob.startswith(b"-----"), "%s is PEM, want raw DER (WAPI-10)" % what)
    out, i = [], 0
    while i < len(blob):
        check(blob[i] == 0x30, "%s: byte %d is 0x%02x, not a DER SEQUENCE" % (what, i, blob[i]))
        header, length = _der_length(blob, i)
        end = i + header + length
        check(end <= len(blob), "%s: DER element at %d runs past the end" % (what, i))
        out.append(blob[i:end])
        i = end
    return out


def certificates(blob, what):
    """Parses a DER concatenation into certificates; each must re-encode to its own bytes."""
    certs = []
    for n, der in enumerate(split_der(blob, what)):
        cert = x509.load_der_x509_certificate(der)
        check(cert.public_bytes(serialization.Encoding.DER) == der,
              "%s[%d] does not round-trip as DER" % (what, n))
        certs.append(cert)
    return certs


def uri_sans(cert):
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return []
    return san.value.get_values_for_type(x509.UniformResourceIdentifier)


def check_leaf_profile(leaf):
    """X509-1/2/4/5 on the leaf."""
    uris = uri_sans(leaf)
    check(len(uris) == 1, "leaf has %d URI SANs, want exactly 1 (X509-1)" % len(uris))
    bc = leaf.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
    check(bc.critical and not bc.value.ca, "leaf basicConstraints must be critical, cA=FALSE (X509-5)")
    ku = leaf.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    check(ku.critical, "leaf keyUsage must be critical (X509-4)")
    check(ku.value.digital_signature, "leaf keyUsage lacks digitalSignature (X509-4)")
    check(not ku.value.key_cert_sign and not ku.value.crl_sign,
          "leaf keyUsage has keyCertSign or cRLSign (X509-4)")
    check(leaf.serial_number > 0, "leaf serial is not positive (X509-11)")


def check_ca_profile(cert, what):
    bc = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
    check(bc.critical and bc.value.ca, "%s: basicConstraints must be critical, cA=TRUE (X509-5)" % what)
    ku = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    check(ku.value.key_cert_sign, "%s: keyUsage lacks keyCertSign (X509-4)" % what)


def check_pkcs8_key(key_der, leaf, workdir):
    """WAPI-10: unencrypted PKCS#8 DER whose public half is the leaf's public key."""
    # PrivateKeyInfo ::= SEQUENCE { INTEGER 0, AlgorithmIdentifier SEQUENCE, OCTET STRING }
    # (an SEC1 ECPrivateKey starts SEQUENCE { INTEGER 1, OCTET STRING ...}).
    check(key_der[:1] == b"\x30", "key is not a DER SEQUENCE")
    header, _ = _der_length(key_der, 0)
    check(key_der[header:header + 3] == b"\x02\x01\x00" and key_der[header + 3:header + 4] == b"\x30",
          "key is not a PKCS#8 PrivateKeyInfo (version 0, then an AlgorithmIdentifier)")
    path = os.path.join(workdir, "key.der")
    with open(path, "wb") as f:
        f.write(key_der)
    r = subprocess.run(["openssl", "pkcs8", "-nocrypt", "-inform", "DER", "-in", path,
                        "-outform", "PEM"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0, "openssl pkcs8 -nocrypt -inform DER rejects the key: " + r.stderr.strip())
    key = serialization.load_der_private_key(key_der, password=None)
    check(key.public_key().public_bytes(**SPKI) == leaf.public_key().public_bytes(**SPKI),
          "private key does not match the leaf's public key (X509-10)")


def write_pem(path, certs):
    with open(path, "wb") as f:
        for cert in certs:
            f.write(cert.public_bytes(serialization.Encoding.PEM))


def openssl_verify(chain, bundle, workdir):
    """`openssl verify -x509_strict` of the leaf against the bundle, intermediates untrusted."""
    leaf_pem = os.path.join(workdir, "leaf.pem")
    bundle_pem = os.path.join(workdir, "bundle.pem")
    write_pem(leaf_pem, chain[:1])
    write_pem(bundle_pem, bundle)
    args = ["openssl", "verify", "-x509_strict", "-CAfile", bundle_pem]
    if len(chain) > 1:
        untrusted = os.path.join(workdir, "untrusted.pem")
        write_pem(untrusted, chain[1:])
        args += ["-untrusted", untrusted]
    r = subprocess.run(args + [leaf_pem], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0 and r.stdout.strip().endswith(": OK"),
          "openssl verify -x509_strict failed (rc %d): %s %s"
          % (r.returncode, r.stdout.strip(), r.stderr.strip()))


def check_x509_svid(svid, workdir):
    """A whole X509SVID message element: returns (leaf, chain, bundle certs)."""
    chain = certificates(svid.x509_svid, "x509_svid")
    bundle = certificates(svid.bundle, "bundle")
    leaf = chain[0]
    check_leaf_profile(leaf)
    check(uri_sans(leaf) == [svid.spiffe_id],
          "spiffe_id %r != leaf URI SAN %r (WAPI-10)" % (svid.spiffe_id, uri_sans(leaf)))
    for n, cert in enumerate(chain[1:], 1):
        check_ca_profile(cert, "chain[%d]" % n)
    for n, cert in enumerate(bundle):
        check_ca_profile(cert, "bundle[%d]" % n)
    bundle_der = {c.public_bytes(serialization.Encoding.DER) for c in bundle}
    check(not any(c.public_bytes(serialization.Encoding.DER) in bundle_der for c in chain),
          "a trust anchor of the bundle is repeated in x509_svid (X509-13)")
    for n, cert in enumerate(chain[1:], 1):
        check(chain[n - 1].issuer == cert.subject, "chain[%d] did not issue chain[%d] (X509-13)"
              % (n, n - 1))
    issuer = chain[-1].issuer
    roots = [c for c in bundle if c.subject == issuer]
    check(roots, "no bundle certificate has the subject of the chain's last issuer")
    check(leaf.not_valid_after <= min(c.not_valid_after for c in chain[1:] + roots),
          "the leaf outlives its CA (X509-12)")
    check_pkcs8_key(svid.x509_svid_key, leaf, workdir)
    openssl_verify(chain, bundle, workdir)
    return leaf, chain, bundle


# --- JWT -----------------------------------------------------------------------------------

def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwks_key(jwks_bytes, kid):
    """The PyJWT key for `kid` from a JWKS document."""
    doc = json.loads(jwks_bytes)
    check(isinstance(doc.get("keys"), list) and doc["keys"], "JWKS has no keys")
    matches = [k for k in doc["keys"] if k.get("kid") == kid]
    check(len(matches) == 1, "JWKS has %d keys with kid %r, want 1" % (len(matches), kid))
    return jwt.PyJWK(matches[0]).key


def verify_jwt(token, jwks_bytes, audience):
    """Signature, aud, exp with PyJWT; returns (header, claims)."""
    header = jwt.get_unverified_header(token)
    check(header.get("kid"), "JWT header has no kid (JWT-4)")
    check(header.get("typ") in (None, "JWT", "JOSE"), "JWT typ %r (JWT-3)" % header.get("typ"))
    key = jwks_key(jwks_bytes, header["kid"])
    try:
        claims = jwt.decode(token, key=key, algorithms=[header["alg"]], audience=audience,
                            options={"require": ["exp", "sub", "aud"]})
    except jwt.PyJWTError as e:
        raise Failure("PyJWT rejects the JWT-SVID: %s" % e)
    return header, claims


def tamper_payload(token, **changes):
    """The token with claims changed and the original signature kept."""
    header, payload, sig = token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims.update(changes)
    return ".".join([header, b64url_encode(json.dumps(claims).encode()), sig])


def tamper_signature(token):
    header, payload, sig = token.split(".")
    raw = bytearray(b64url_decode(sig))
    raw[len(raw) // 2] ^= 0x01
    return ".".join([header, payload, b64url_encode(bytes(raw))])


def forged_tokens(token):
    """Tokens with the genuine token's claims that ValidateJWTSVID must refuse (JWT-2, JWT-4,
    JWT-11): signed by a key not in the bundle (same and unknown kid), alg none, HS256 keyed
    with nothing secret, and no kid."""
    from cryptography.hazmat.primitives.asymmetric import ec
    header = jwt.get_unverified_header(token)
    claims = json.loads(b64url_decode(token.split(".")[1]))
    stranger = ec.generate_private_key(ec.SECP256R1())
    unsigned_header = b64url_encode(json.dumps({"alg": "none", "kid": header["kid"],
                                                "typ": "JWT"}).encode())
    return {
        "signed by a stranger's key under the real kid":
            jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": header["kid"]}),
        "signed by a stranger's key with an unknown kid":
            jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": "no-such-kid"}),
        "alg none": unsigned_header + "." + token.split(".")[1] + ".",
        "HS256": jwt.encode(claims, "secret", algorithm="HS256", headers={"kid": header["kid"]}),
        "no kid": jwt.encode(claims, stranger, algorithm="ES256"),
    }
