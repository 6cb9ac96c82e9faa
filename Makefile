# Conveniences around cargo and the scripts; the scripts are the source of truth.
BIN := target/x86_64-unknown-linux-gnu/release/bpf-preload

.PHONY: all build objects test test-host demo bench install clean
all: build objects

build:
	cargo build --release --locked

objects:
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

# The binary to $(DESTDIR)/usr/bin, the dracut module to $(DESTDIR)/usr/lib/dracut/modules.d.
install: build
	BPF_PRELOAD_BIN=$(BIN) dracut/install.sh $(DESTDIR)

clean:
	cargo clean
	$(MAKE) -C bpf clean
