#!/bin/sh
# seeds.sh OUT UPDATER: the seed corpus of the fuzz targets, made from real
# bundles and configs at build time (nothing binary is committed):
#   OUT/keys/         the keys the seed bundles are signed with (the
#                     bundle_reader target trusts their public halves)
#   OUT/bundle_reader bundles made by `updater bundle create`: Ed25519 and ECDSA
#                     signed, an empty image, an unsigned one, one with trailing bytes
#   OUT/bundle_head   their heads (fixed header, manifest, signature)
#   OUT/manifest      their manifests
#   OUT/bundle_index  the index sections of the format-3, 4 and 5 ones, each after
#                     the 10 (18) bytes fuzz_bundle_index.c reads the manifest's
#                     sizes from
#   OUT/config        the shipped example config, with and without its optional
#                     settings, and the simulated device's config
# Images are small on purpose: a seed's size bounds what libFuzzer tries.
set -eu
OUT=$1 UPDATER=$2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp/keys" "$OUT.tmp/img"
for t in bundle_reader bundle_head bundle_index manifest config; do mkdir -p "$OUT.tmp/$t"; done
K=$OUT.tmp/keys
openssl genpkey -algorithm ed25519 -out "$K/ed.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/ec.pem" 2>/dev/null
for k in ed ec; do openssl pkey -in "$K/$k.pem" -pubout -out "$K/$k.pub.pem" 2>/dev/null; done

# A text-like image (compresses well) and an incompressible one.
I=$OUT.tmp/img
i=0
while [ $i -lt 200 ]; do echo "line $i of a root file system image"; i=$((i + 1)); done >"$I/text.img"
head -c 3000 /dev/urandom >"$I/random.img"
: >"$I/empty.img"
B=$OUT.tmp/bundle_reader
mk() { # IMG VERSION KEY OUT [OPTIONS]
	mk_img=$1 mk_v=$2 mk_k=$3 mk_out=$4
	shift 4
	"$UPDATER" bundle create --image "$I/$mk_img.img" --version "$mk_v" --compatible sim-board \
		--key "$K/$mk_k.pem" --output "$B/$mk_out.upd" "$@" >/dev/null
}
mk text 2.0 ed text-ed
mk random 2.1-rc1 ec random-ec
mk empty 0.1 ed empty-ed
mk text 3.0 ed text-ed-sv --security-version 7
mk random 2.2 ed random-ed-frames --frame-size 4096 # a frame per block
mk text 1.9 ed text-ed-f1 --format 1
mk text 2.9 ed text-ed-f2 --format 2 --security-version 7
# Static deltas (formats 4 and 5) from text-ed's image; made under the name
# devices ask for (no warning), kept as .upd like the others. And a format 5
# one whose second frame takes the new image's blocks into its prefix (a
# source of whole blocks, the same new block twice, a frame per block).
{ cat "$I/text.img"; echo "one more line"; } >"$I/text2.img"
head -c 16384 /dev/urandom >"$I/blocks.img"
{ head -c 4096 "$I/blocks.img"; head -c 4096 /dev/urandom | tee "$I/new.blk"; cat "$I/new.blk"; \
	tail -c 4096 "$I/blocks.img"; } >"$I/blocks2.img"
mk blocks 1.0 ed blocks-ed
delta() { # FROM IMG OUT [OPTIONS]
	d_from=$1 d_img=$2 d_out=$3
	shift 3
	d_hex=$(grep -a -o 'image-sha256=[0-9a-f]*' "$B/$d_from.upd" | head -n 1 | cut -c14-29)
	"$UPDATER" bundle create --image "$I/$d_img.img" --version 2.1 --compatible sim-board \
		--key "$K/ed.pem" --output "$B/$d_out.upd.from-$d_hex" --delta-from "$B/$d_from.upd" \
		--security-version 7 "$@" >/dev/null
	mv "$B/$d_out.upd.from-$d_hex" "$B/$d_out.upd"
}
delta text-ed text2 text-ed-delta --frame-size 65536
delta text-ed text2 text-ed-delta5 --frame-size 65536 --format 5
delta blocks-ed blocks2 blocks-ed-delta --frame-size 4096 --format 5
python3 "$TOP/tests/lib/tamper.py" unsign "$B/text-ed.upd" "$B/text-unsigned.upd"
{ cat "$B/random-ec.upd"; printf 'trailing bytes'; } >"$B/random-ec-trailing.upd"

# Heads and manifests, cut out of the bundles.
python3 - "$B" "$OUT.tmp" <<'PY'
import os, struct, sys
src, out = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    data = open(os.path.join(src, name), "rb").read()
    mlen, slen = struct.unpack(">II", data[8:16])
    base = name.rsplit(".", 1)[0]
    open(os.path.join(out, "bundle_head", base), "wb").write(data[:16 + mlen + slen])
    open(os.path.join(out, "manifest", base), "wb").write(data[16:16 + mlen])
    keys = dict(l.split("=", 1) for l in data[16:16 + mlen].decode().splitlines())
    if "index-size" in keys:
        at, n = 16 + mlen + slen, int(keys["index-size"])
        prefix = struct.pack("<IIBB", int(keys["image-size"]), int(keys["payload-size"]),
                             (int(keys["frame-size"]) // 4096) % 256,
                             {"4": 4, "5": 12}.get(keys["format"], 0))
        if keys["format"] in ("4", "5"):
            prefix += struct.pack("<II", int(keys["delta-data-size"]),
                                  int(keys["delta-source-size"]))
        open(os.path.join(out, "bundle_index", base), "wb").write(prefix + data[at:at + n])
PY

C=$OUT.tmp/config
cp "$TOP/config/updater.conf" "$C/example.conf"
# The example's optional settings are "//" lines; enabled, they cover every key.
sed 's#^\([ \t]*\)//#\1#' "$TOP/config/updater.conf" >"$C/example-all.conf"
cat >"$C/device.conf" <<'CONF'
backend = "dualbank";
compatible = "sim-board";
state_dir = "data/updater";
server = { timeout = 5; retries = 2; };
bootenv = { fw_env_config = "env/fw_env.config"; };
dualbank = {
  slots = { A = "slots/A.img"; B = "slots/B.img"; };
  public_key = [ "keys/old.pub.pem", "/etc/keys/new.pub.pem" ];
  bootlimit = 3;
};
hooks = { dir = "hooks"; timeout = 10L; };
CONF
rm -rf "$I" "$OUT"
mv "$OUT.tmp" "$OUT"
