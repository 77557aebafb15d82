#!/usr/bin/env python3
"""Just enough of BitBake to test packaging/yocto's recipe against the Makefile.

Reads the recipe (assignments, flags, do_* shell functions), expands it with
Poky's default paths and writes the shell script that its do_compile and
do_install would run (oe_runmake = make with EXTRA_OEMAKE). A construct this
file does not know is an error: the recipe must stay minimal and conventional.

usage: bitbake_lite.py RECIPE CROSS_PREFIX PACKAGECONFIG D SCRIPT_OUT JSON_OUT
"""
import json
import re
import shlex
import sys

recipe, cross, pkgconfig, dest, script_out, json_out = sys.argv[1:7]

# Poky's defaults (meta/conf/bitbake.conf), a systemd distro without usrmerge.
V = {
    "prefix": "/usr", "exec_prefix": "/usr", "bindir": "/usr/bin", "sbindir": "/usr/sbin",
    "libexecdir": "/usr/libexec", "datadir": "/usr/share", "mandir": "/usr/share/man",
    "docdir": "/usr/share/doc", "sysconfdir": "/etc", "nonarch_base_libdir": "/lib",
    "systemd_unitdir": "/lib/systemd", "systemd_system_unitdir": "/lib/systemd/system",
    "BPN": "updater", "PN": "updater", "TARGET_PREFIX": cross, "CC": cross + "gcc",
    "CFLAGS": "-O2 -pipe -g", "LDFLAGS": "-Wl,-O1 -Wl,--hash-style=gnu -Wl,--as-needed",
    "DISTRO_FEATURES": "systemd usrmerge", "WORKDIR": "/work", "SRCPV": "1+abcdef", "D": dest,
    "AUTOREV": "AUTOINC",
}
flags = {}       # VAR -> {flag: value}
funcs = {}       # name -> body
inherits = []

lines = open(recipe).read().split("\n")
i = 0
while i < len(lines):
    line = lines[i]
    i += 1
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    while line.endswith("\\") and i < len(lines):
        line = line[:-1] + "\n" + lines[i]
        i += 1
    m = re.match(r"^(do_\w+)\(\)\s*\{\s*$", line)
    if m:
        body = []
        while lines[i].strip() != "}":
            body.append(lines[i])
            i += 1
        i += 1
        funcs[m.group(1)] = "\n".join(body)
        continue
    m = re.match(r"^inherit\s+(.*)$", line)
    if m:
        inherits += m.group(1).split()
        continue
    m = re.match(r'^([A-Za-z_][\w:${}]*)(\[(\w+)\])?\s*(=|\?\?=|\?=|\+=|\.=)\s*"(.*)"\s*$', line, re.S)
    if not m:
        sys.exit(f"bitbake_lite: {recipe}: cannot parse: {line!r}")
    name, _, flag, op, value = m.groups()
    if flag:
        flags.setdefault(name, {})[flag] = value
    elif op in ("=",):
        V[name] = value
    elif op in ("??=", "?="):
        V.setdefault(name, value)
    elif op == "+=":
        V[name] = V.get(name, "") + " " + value
    elif op == ".=":
        V[name] = V.get(name, "") + value

if pkgconfig != "-":
    V["PACKAGECONFIG"] = pkgconfig
enabled = V.get("PACKAGECONFIG", "").split()
confargs, extra_depends = [], []
for name, spec in flags.get("PACKAGECONFIG", {}).items():
    f = spec.split(",")
    on = name in enabled
    confargs.append(f[0] if on else (f[1] if len(f) > 1 else ""))
    if on and len(f) > 2 and f[2]:
        extra_depends += f[2].split()
V["PACKAGECONFIG_CONFARGS"] = " ".join(a for a in confargs if a)


def expand(s, depth=0):
    if depth > 20:
        sys.exit("bitbake_lite: recursive expansion")

    def inline(m):
        expr = m.group(1)
        c = re.fullmatch(r"bb\.utils\.contains\('(\w+)',\s*'([^']*)',\s*'([^']*)',\s*'([^']*)',\s*d\)", expr)
        if not c:
            sys.exit(f"bitbake_lite: unsupported inline python: {expr}")
        var, item, yes, no = c.groups()
        have = expand(V.get(var, ""), depth + 1).split()
        return yes if all(x in have for x in item.split()) else no

    s = re.sub(r"\$\{@(.*?)\}", inline, s)

    def var(m):
        n = m.group(1)
        if n not in V:
            sys.exit(f"bitbake_lite: unknown variable ${{{n}}}")
        return expand(V[n], depth + 1)

    return re.sub(r"\$\{([A-Za-z_][\w:]*)\}", var, s)


for f in ("do_compile", "do_install"):
    if f not in funcs:
        sys.exit(f"bitbake_lite: {recipe} has no {f}")
extra = expand(V.get("EXTRA_OEMAKE", "")).split("\n")
extra = " ".join(x.strip() for x in extra if x.strip())
with open(script_out, "w") as out:
    out.write("set -e\n")
    for f in ("do_compile", "do_install"):
        for line in expand(funcs[f]).split("\n"):
            line = line.strip()
            if not line:
                continue
            if not line.startswith("oe_runmake"):
                sys.exit(f"bitbake_lite: {f}: only oe_runmake is supported: {line}")
            out.write(f"make -j2 {extra} {line[len('oe_runmake'):].strip()}\n")

make_vars = sorted(set(re.findall(r"(?:^|\s)([A-Z_][A-Z0-9_]*)=", extra)))
json.dump({
    "inherits": inherits,
    "depends": expand(V.get("DEPENDS", "")).split() + extra_depends,
    "packageconfig_flags": flags.get("PACKAGECONFIG", {}),
    "make_vars": make_vars,
    "extra_oemake": shlex.split(extra),
    "systemd_service": expand(V.get("SYSTEMD_SERVICE:${PN}", "")).split(),
    "files": expand(V.get("FILES:${PN}", "")).split(),
    "systemd_system_unitdir": V["systemd_system_unitdir"],
}, open(json_out, "w"), indent=1)
