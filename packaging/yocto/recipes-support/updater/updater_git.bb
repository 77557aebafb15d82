SUMMARY = "OTA updater for embedded Linux: dual-bank (A/B) and OSTree backends"
DESCRIPTION = "Installs a new system next to the running one and boots it on \
trial; U-Boot falls back to the previous system unless it is confirmed."
# The tree has no license file yet: set LICENSE and LIC_FILES_CHKSUM when it does.
LICENSE = "CLOSED"

# Where the sources come from: set UPDATER_GIT_URI (and SRCREV) in local.conf
# or a bbappend, or use `devtool modify updater` on a checkout.
UPDATER_GIT_URI ??= "git://git.example.com/updater.git;protocol=https;branch=main"
SRC_URI = "${UPDATER_GIT_URI}"
SRCREV ??= "${AUTOREV}"
PV = "0.1.0+git${SRCPV}"
S = "${WORKDIR}/git"

inherit pkgconfig systemd

DEPENDS = "curl libconfig zstd libubootenv openssl"

# One PACKAGECONFIG per backend: the Makefile's WITH_DUALBANK / WITH_OSTREE /
# WITH_SINGLECOPY.
PACKAGECONFIG ??= "dualbank"
PACKAGECONFIG[dualbank] = "WITH_DUALBANK=1,WITH_DUALBANK=0"
PACKAGECONFIG[ostree] = "WITH_OSTREE=1,WITH_OSTREE=0,ostree"
PACKAGECONFIG[singlecopy] = "WITH_SINGLECOPY=1,WITH_SINGLECOPY=0"

# The project's Makefile (docs/packaging.md) builds and installs everything.
# -Wno-error: a newer compiler's new warnings must not break the build.
EXTRA_OEMAKE = " \
    CROSS_COMPILE=${TARGET_PREFIX} \
    CC='${CC}' \
    CFLAGS='${CFLAGS} -Wno-error' \
    LDFLAGS='${LDFLAGS}' \
    PKG_CONFIG=pkg-config \
    PREFIX=${prefix} \
    BINDIR=${bindir} \
    LIBEXECDIR=${libexecdir} \
    DATADIR=${datadir} \
    MANDIR=${mandir} \
    DOCDIR=${docdir}/${BPN} \
    SYSCONFDIR=${sysconfdir} \
    SYSTEMDUNITDIR=${systemd_system_unitdir} \
    INSTALL_SYSTEMD=${@bb.utils.contains('DISTRO_FEATURES', 'systemd', '1', '0', d)} \
    INSTALL_SIM=0 \
    ${PACKAGECONFIG_CONFARGS} \
"

do_compile() {
    oe_runmake clean
    oe_runmake updater
}

do_install() {
    oe_runmake install DESTDIR=${D}
}

# updater-check.service has no [Install]: its timer starts it.
SYSTEMD_SERVICE:${PN} = "updater-boot.service updater-health.service updater-check.timer"
SYSTEMD_AUTO_ENABLE = "enable"

FILES:${PN} += "${libexecdir}/updater ${datadir}/updater"
