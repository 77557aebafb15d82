#!/usr/bin/env python3
"""Makes broken bundles for the tests, from good ones (format: docs/bundle-format.md).

tamper.py unsign IN OUT            drop the signature (sig length 0)
tamper.py flip IN OUT N            flip one byte N bytes into the payload
tamper.py frames IN OUT          alter a byte every 509 of the payload (every frame corrupt)
tamper.py index IN OUT N           flip one byte N bytes into the index section (format 3)
tamper.py truncate IN OUT BYTES    keep only the first BYTES bytes
tamper.py manifest IN OUT KEY=VAL  change a manifest value, keep the old signature
"""
import struct
import sys


def parse(data):
    """The manifest, the signature, the index section (format 3, else empty)
    and the payload."""
    assert data[:8] == b"UPDBNDL1", "not a bundle"
    mlen, slen = struct.unpack(">II", data[8:16])
    manifest = data[16:16 + mlen]
    sig = data[16 + mlen:16 + mlen + slen]
    keys = dict(l.split("=", 1) for l in manifest.decode().splitlines() if "=" in l)
    at = 16 + mlen + slen
    isize = int(keys.get("index-size", 0))
    return manifest, sig, data[at:at + isize], data[at + isize:]


def build(manifest, sig, index, payload):
    return (b"UPDBNDL1" + struct.pack(">II", len(manifest), len(sig)) + manifest + sig + index
            + payload)


def main(argv):
    cmd, src, dst = argv[1], argv[2], argv[3]
    data = open(src, "rb").read()
    manifest, sig, index, payload = parse(data)
    if cmd == "unsign":
        out = build(manifest, b"", index, payload)
    elif cmd == "flip":
        n = int(argv[4])
        p = bytearray(payload)
        p[n] ^= 0x55
        out = build(manifest, sig, index, bytes(p))
    elif cmd == "frames":
        p = bytearray(payload)
        for i in range(7, len(p), 509):
            p[i] ^= 0x5a
        out = build(manifest, sig, index, bytes(p))
    elif cmd == "index":
        n = int(argv[4])
        x = bytearray(index)
        x[n] ^= 0x55
        out = build(manifest, sig, bytes(x), payload)
    elif cmd == "truncate":
        out = data[:int(argv[4])]
    elif cmd == "manifest":
        key, val = argv[4].split("=", 1)
        lines = [l if not l.startswith(key + "=") else f"{key}={val}"
                 for l in manifest.decode().splitlines()]
        out = build(("\n".join(lines) + "\n").encode(), sig, index, payload)
    else:
        sys.exit(__doc__)
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main(sys.argv)
