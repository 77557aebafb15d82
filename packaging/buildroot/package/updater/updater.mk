################################################################################
#
# updater
#
################################################################################

# Built from this source tree (the BR2_EXTERNAL is its packaging/buildroot).
# A product tree that fetches a release instead sets UPDATER_SITE to the
# repository and UPDATER_SITE_METHOD = git.
UPDATER_VERSION = 0.1.0
UPDATER_SITE = $(BR2_EXTERNAL_UPDATER_PATH)/../..
UPDATER_SITE_METHOD = local
UPDATER_DEPENDENCIES = host-pkgconf libcurl libconfig zstd libubootenv openssl

# The project's Makefile (docs/packaging.md): its install is the package's.
# -Wno-error: a newer compiler's new warnings must not break the build.
UPDATER_MAKE_OPTS = \
	CROSS_COMPILE="$(TARGET_CROSS)" \
	CC="$(TARGET_CC)" \
	PKG_CONFIG="$(PKG_CONFIG_HOST_BINARY)" \
	CFLAGS="$(TARGET_CFLAGS) -Wno-error" \
	LDFLAGS="$(TARGET_LDFLAGS)" \
	PREFIX=/usr \
	SYSCONFDIR=/etc \
	SYSTEMDUNITDIR=/usr/lib/systemd/system \
	INSTALL_SYSTEMD=$(if $(BR2_INIT_SYSTEMD),1,0) \
	INSTALL_SIM=0

ifeq ($(BR2_PACKAGE_UPDATER_DUALBANK),y)
UPDATER_MAKE_OPTS += WITH_DUALBANK=1
else
UPDATER_MAKE_OPTS += WITH_DUALBANK=0
endif

ifeq ($(BR2_PACKAGE_UPDATER_SINGLECOPY),y)
UPDATER_MAKE_OPTS += WITH_SINGLECOPY=1
else
UPDATER_MAKE_OPTS += WITH_SINGLECOPY=0
endif

ifeq ($(BR2_PACKAGE_UPDATER_OSTREE),y)
UPDATER_DEPENDENCIES += libostree
UPDATER_MAKE_OPTS += WITH_OSTREE=1
else
UPDATER_MAKE_OPTS += WITH_OSTREE=0
endif

# `clean` first: the local site method copies the developer's tree, build
# products (./updater, build/) included.
define UPDATER_BUILD_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D) $(UPDATER_MAKE_OPTS) clean
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D) $(UPDATER_MAKE_OPTS) updater
endef

define UPDATER_INSTALL_TARGET_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D) $(UPDATER_MAKE_OPTS) \
		DESTDIR=$(TARGET_DIR) install
endef

$(eval $(generic-package))
