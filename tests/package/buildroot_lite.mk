# Just enough of Buildroot's package infrastructure to run the commands of
# packaging/buildroot/package/updater/updater.mk against the project's
# Makefile: the variables a generic-package sees, and targets that are stamp
# files in the package's build directory, so that $(@D) is that directory.
#   make -f buildroot_lite.mk SRC=<copy of the tree> TARGET_DIR=<dir> \
#        [CROSS=aarch64-linux-gnu-] [BR2_PACKAGE_UPDATER_OSTREE=y] ...
BR2_EXTERNAL_UPDATER_PATH := $(SRC)/packaging/buildroot
TARGET_CROSS := $(CROSS)
TARGET_CC := $(CROSS)gcc
TARGET_CFLAGS := -O2
TARGET_LDFLAGS :=
PKG_CONFIG_HOST_BINARY := $(if $(CROSS),$(CROSS)pkg-config,pkg-config)
TARGET_MAKE_ENV := PATH="$(PATH)"

include $(BR2_EXTERNAL_UPDATER_PATH)/package/updater/updater.mk

all: $(SRC)/.stamp_target_installed

$(SRC)/.stamp_built:
	$(UPDATER_BUILD_CMDS)
	touch $@

$(SRC)/.stamp_target_installed: $(SRC)/.stamp_built
	$(UPDATER_INSTALL_TARGET_CMDS)
	touch $@

print-%:
	@echo '$($*)'
