# Conveniences around cargo and the scripts; the scripts are the source of truth.
BIN := target/x86_64-unknown-linux-gnu/release/bpf-preload
# The initramfs build: without the sign-time code (cargo --no-default-features: no `sign`,
# `keygen`, `predict`), smaller; the generators put it into the initramfs as /usr/bin/bpf-preload.
INITRD_BIN := target/bpf-preload-initrd

# Installation directories. The generators' directories follow PREFIX; dracut,
# initramfs-tools and systemd only look under /usr, so keep PREFIX=/usr for them
# (or set DRACUTDIR=... etc. one by one).
PREFIX ?= /usr
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/bpf-preload
BUNDLEDIR ?= $(PREFIX)/lib/bpf-preload
DRACUTDIR ?= $(PREFIX)/lib/dracut/modules.d/50bpf-preload
DRACUTCONFDIR ?= $(PREFIX)/lib/dracut/dracut.conf.d
INITRAMFSTOOLSDIR ?= $(PREFIX)/share/initramfs-tools
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
MKOSIINITRDDIR ?= $(PREFIX)/lib/mkosi-initrd/mkosi.conf.d
DATADIR ?= $(PREFIX)/share/bpf-preload
MANDIR ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
SYSCONFDIR ?= /etc
SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' \
	-e 's|@SYSTEMDUNITDIR@|$(SYSTEMDUNITDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' \
	-e 's|@BUNDLEDIR@|$(BUNDLEDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

.PHONY: all deps build build-initrd objects test test-host demo bench install install-files uninstall deb clean
all: build objects

# Build dependencies from apt (root; a no-op when they are there). The same
# script serves the demo, the tests and the benchmark: tests/deps.sh vm|bench|all.
deps:
	tests/deps.sh build

# Reproducible: the checkout's path is remapped out of the binary (panic locations, the
# skeletons included from OUT_DIR), so two checkouts of one commit build the same bytes
# (tests/repro.sh checks it). Appended to .cargo/config.toml's rustflags, not replacing them.
REPRO_CONFIG = --config 'target.x86_64-unknown-linux-gnu.rustflags=["--remap-path-prefix=$(CURDIR)=/build/bpf-preload"]'
# Both builds share target/ (only the loader and format crates differ); cargo copies the last
# one built to $(BIN), so the initramfs build goes first and is copied aside.
build: build-initrd
	cargo build --release --locked $(REPRO_CONFIG)

# The initramfs build alone (what the generators install; tests/repro.sh builds this one).
build-initrd: deps
	cargo build --release --locked $(REPRO_CONFIG) --no-default-features
	install -m 0755 $(BIN) $(INITRD_BIN)

objects: deps
	$(MAKE) -C bpf

# Everything (needs root): unit, root integration, VM boot tests.
test:
	tests/run-all.sh

# Without the VM boots.
test-host:
	tests/run-all.sh --no-vm

demo:
	tests/vm/demo.sh

bench:
	tests/bench/run.sh

# The loader (the host build in BINDIR, the initramfs build in LIBEXECDIR), its man page, the initrd helpers, the dracut module, the initramfs-tools hook and
# script, the systemd unit for systemd initrds and the mkosi-initrd drop-in.
install: build install-files

install-files:
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/bpf-preload
	install -D -m 0755 $(INITRD_BIN) $(DESTDIR)$(LIBEXECDIR)/bpf-preload-initrd
	install -D -m 0755 initrd/initrd-install $(DESTDIR)$(LIBEXECDIR)/initrd-install
	install -D -m 0755 initrd/initrd-run $(DESTDIR)$(LIBEXECDIR)/initrd-run
	install -d $(DESTDIR)$(DRACUTDIR)
	$(SUBST) dracut/50bpf-preload/module-setup.sh > $(DESTDIR)$(DRACUTDIR)/module-setup.sh
	chmod 0755 $(DESTDIR)$(DRACUTDIR)/module-setup.sh
	install -m 0755 dracut/50bpf-preload/bpf-preload-hook.sh $(DESTDIR)$(DRACUTDIR)/bpf-preload-hook.sh
	# dracut includes the module only on request (its check() returns 255): this asks for it
	# from the distribution's configuration directory, so that uninstall takes it away again
	install -D -m 0644 packaging/debian/dracut.conf $(DESTDIR)$(DRACUTCONFDIR)/50-bpf-preload.conf
	install -d $(DESTDIR)$(INITRAMFSTOOLSDIR)/hooks $(DESTDIR)$(INITRAMFSTOOLSDIR)/scripts/init-bottom
	$(SUBST) initramfs-tools/hooks/bpf-preload > $(DESTDIR)$(INITRAMFSTOOLSDIR)/hooks/bpf-preload
	chmod 0755 $(DESTDIR)$(INITRAMFSTOOLSDIR)/hooks/bpf-preload
	install -m 0755 initramfs-tools/scripts/init-bottom/bpf-preload $(DESTDIR)$(INITRAMFSTOOLSDIR)/scripts/init-bottom/bpf-preload
	install -D -m 0644 systemd/bpf-preload.service $(DESTDIR)$(SYSTEMDUNITDIR)/bpf-preload.service
	install -d $(DESTDIR)$(MKOSIINITRDDIR)
	$(SUBST) mkosi/mkosi-initrd/50-bpf-preload.conf > $(DESTDIR)$(MKOSIINITRDDIR)/50-bpf-preload.conf
	install -D -m 0644 mkosi/mkosi-initrd/50-bpf-preload.preset $(DESTDIR)$(DATADIR)/50-bpf-preload.preset
	install -D -m 0644 docs/bpf-preload.8 $(DESTDIR)$(MANDIR)/man8/bpf-preload.8
	install -D -m 0644 completion/bpf-preload.bash $(DESTDIR)$(COMPLETIONDIR)/bpf-preload
	install -d $(DESTDIR)$(BUNDLEDIR) $(DESTDIR)$(SYSCONFDIR)/bpf-preload/keys

# The Debian package build/bpf-preload_<version>_<arch>.deb (plain dpkg-deb, from
# install-files; lintian must report no error). See packaging/debian/README.md.
deb:
	tests/deps.sh deb
	packaging/debian/build-deb.sh

# Removes what install put there; your objects, keys and lists stay. Nothing left asks a
# generator for the module: the dracut configuration install wrote goes, and so does the line
# earlier READMEs had you write into /etc/dracut.conf.d/bpf-preload.conf, when the file holds
# nothing else (otherwise a warning names it). tests/initrd.rs runs this.
OLD_DRACUT_CONF = $(DESTDIR)$(SYSCONFDIR)/dracut.conf.d/bpf-preload.conf
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/bpf-preload \
	    $(DESTDIR)$(LIBEXECDIR)/bpf-preload-initrd \
	    $(DESTDIR)$(LIBEXECDIR)/initrd-install $(DESTDIR)$(LIBEXECDIR)/initrd-run \
	    $(DESTDIR)$(DRACUTDIR)/module-setup.sh $(DESTDIR)$(DRACUTDIR)/bpf-preload-hook.sh \
	    $(DESTDIR)$(DRACUTCONFDIR)/50-bpf-preload.conf \
	    $(DESTDIR)$(INITRAMFSTOOLSDIR)/hooks/bpf-preload \
	    $(DESTDIR)$(INITRAMFSTOOLSDIR)/scripts/init-bottom/bpf-preload \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/bpf-preload.service \
	    $(DESTDIR)$(MKOSIINITRDDIR)/50-bpf-preload.conf $(DESTDIR)$(DATADIR)/50-bpf-preload.preset \
	    $(DESTDIR)$(MANDIR)/man8/bpf-preload.8 $(DESTDIR)$(COMPLETIONDIR)/bpf-preload
	if [ -f $(OLD_DRACUT_CONF) ]; then \
	    if [ "$$(grep -v '^[[:space:]]*\(#.*\)\{0,1\}$$' $(OLD_DRACUT_CONF))" = 'add_dracutmodules+=" bpf-preload "' ]; then \
	        rm -f $(OLD_DRACUT_CONF); \
	    else \
	        echo "warning: $(OLD_DRACUT_CONF) has more than the bpf-preload line: remove that line yourself" >&2; \
	    fi; \
	fi
	-rmdir $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DRACUTDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(BUNDLEDIR) 2> /dev/null

clean:
	cargo clean
	$(MAKE) -C bpf clean
