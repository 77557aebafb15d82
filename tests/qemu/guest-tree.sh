# guest-tree.sh (sourced by build.sh and build-singlecopy.sh): the part of a
# test root file system both disks share.
# guest_tree TREE UPDATER: busybox-static with its applet links,
# tests/qemu/guest-init as /sbin/init, UPDATER as /usr/bin/updater and the
# shared libraries ldd finds for it on the host, at the same paths.
guest_tree() {
	local tree=$1 updater=$2 a
	mkdir -p "$tree"/{bin,sbin,usr/bin,usr/sbin,etc/updater,proc,sys,dev,run,tmp,data,mnt/update,var/lock,lib64}
	cp /bin/busybox "$tree/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$tree/bin/$a"
	done
	install -m 0755 "$TOP/tests/qemu/guest-init" "$tree/sbin/init"
	install -m 0755 "$updater" "$tree/usr/bin/updater"
	ldd "$updater" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
		mkdir -p "$tree$(dirname "$lib")"
		cp -L "$lib" "$tree$lib"
	done
}
