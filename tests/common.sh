# shellcheck shell=bash
# What the set-up commands, tests/vm, tests/bench and tests/deps.sh share: the
# binary's path and build, apt installs, and private apt configurations for
# suites the machine does not have (bookworm-backports, trixie, ...).
# Source it from bash; it defines functions and variables only.
#
# The machine's apt sources are never changed: another suite is reached through
# a private apt configuration (APT_CONFIG) under $BP_BUILD/apt/NAME/, with its
# own sources, lists and cache; only dpkg's database is shared.
BP_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BP_BUILD=${BP_BUILD:-$BP_TOP/build}
BP_MIRROR=${BP_MIRROR:-http://deb.debian.org/debian}
BP_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
BP_BIN_DEFAULT=$BP_TOP/target/x86_64-unknown-linux-gnu/release/bpf-preload
# The initramfs build (no sign-time code; Makefile `build`), copied aside by bp_build.
BP_INITRD_BIN_DEFAULT=$BP_TOP/target/bpf-preload-initrd
BP_APT=(apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends)

# What the tests download, and the roots made from it (apt lists, kernel .debs, Debian roots,
# mkosi's tree), is cached outside the checkout, so that a clean clone on a machine that ran
# the tests before fetches nothing again: in BP_CACHE (default /var/cache/bpf-preload-tests;
# BP_CACHE=none keeps everything in build/). A fresh machine starts cold and works the same.
# Roots made from a mirror are keyed on their inputs and the ISO week (BP_WEEK): a week-old
# root is made again, so the mirror's updates reach the tests.
BP_CACHE=${BP_CACHE:-/var/cache/bpf-preload-tests}
# shellcheck disable=SC2034 # read by the scripts that source this one
BP_WEEK=$(date +%G-%V)
# bp_cached DIR: DIR (under $BP_BUILD) becomes a symlink to the same path under $BP_CACHE.
bp_cached() {
    local p=$1 target
    [[ $BP_CACHE == none ]] && { mkdir -p "$p"; return 0; }
    target=$BP_CACHE/${p#"$BP_BUILD"/}
    [[ -L $p && $(readlink "$p") == "$target" ]] && return 0
    mkdir -p "$target" "$(dirname "$p")"
    rm -rf "$p" && ln -s "$target" "$p"
}

bp_log() { printf '[%s %s] %s\n' "${BP_LOG_TAG:-bpf-preload}" "$(date +%H:%M:%S)" "$*" >&2; }
bp_die() { bp_log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------ binary --
# bp_bin: the loader to use: $BPF_PRELOAD_BIN when set, else the release build.
bp_bin() { echo "${BPF_PRELOAD_BIN:-$BP_BIN_DEFAULT}"; }

# bp_initrd_bin: the initramfs build: $BPF_PRELOAD_INITRD_BIN when set, else
# target/bpf-preload-initrd.
bp_initrd_bin() { echo "${BPF_PRELOAD_INITRD_BIN:-$BP_INITRD_BIN_DEFAULT}"; }

# bp_build [--reproducible]: both release builds (quick when up to date; the initramfs build
# first, copied to target/bpf-preload-initrd, as `make build` does), unless BPF_PRELOAD_BIN
# names a binary to use instead (then BPF_PRELOAD_INITRD_BIN names the initramfs one). Prints
# the host binary's path.
bp_build() {
    if [[ -z ${BPF_PRELOAD_BIN:-} ]]; then
        local repro=()
        # --reproducible (the package, like `make build`: Makefile, REPRO_CONFIG): the
        # checkout's path remapped out of the binary. Its own artifacts beside the plain ones
        # (cargo hashes rustflags into them), so the tests' builds are not redone.
        [[ ${1:-} == --reproducible ]] &&
            repro=(--config "target.x86_64-unknown-linux-gnu.rustflags=[\"--remap-path-prefix=$BP_TOP=/build/bpf-preload\"]")
        bp_log "cargo build --release --locked ${repro[*]} (--no-default-features, then the default)"
        (cd "$BP_TOP" && cargo build --release --locked -q "${repro[@]}" --no-default-features &&
            install -m 0755 "$BP_BIN_DEFAULT" "$BP_INITRD_BIN_DEFAULT" &&
            cargo build --release --locked -q "${repro[@]}") >&2 || bp_die "cargo build failed"
    fi
    [[ -x $(bp_bin) ]] || bp_die "no bpf-preload binary at $(bp_bin)"
    [[ -x $(bp_initrd_bin) ]] || bp_die "no initramfs build of bpf-preload at $(bp_initrd_bin)"
    bp_bin
}

# --------------------------------------------------------------------- apt --
bp_have_pkg() { dpkg-query -W -f='${Status}' "$1" 2> /dev/null | grep -q 'install ok installed'; }

_bp_apt_updated=
# bp_apt_install PKG...: install those not installed yet, from the machine's sources.
bp_apt_install() {
    local missing=() p
    for p in "$@"; do bp_have_pkg "$p" || missing+=("$p"); done
    ((${#missing[@]})) || return 0
    [[ $(id -u) == 0 ]] || bp_die "missing packages (run as root to install): ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if [[ -z $_bp_apt_updated ]]; then
        "${BP_APT[@]}" update > /dev/null || bp_die "apt-get update failed"
        _bp_apt_updated=1
    fi
    bp_log "apt-get install ${missing[*]}"
    "${BP_APT[@]}" install "${missing[@]}" > /dev/null || bp_die "apt-get install ${missing[*]} failed"
}

# bp_apt_conf NAME [--with-host] SUITE...: write a private apt configuration for
# these suites of Debian (main), run `apt-get update` with it once per call site
# and day, and print its path (use as APT_CONFIG=...). --with-host adds the
# machine's own sources, so that `apt-get install -t SUITE` can resolve the
# other dependencies from them.
bp_apt_conf() {
    local name=$1 host=0 d f s
    shift
    [[ ${1:-} == --with-host ]] && { host=1; shift; }
    bp_cached "$BP_BUILD/apt"
    d=$BP_BUILD/apt/$name
    mkdir -p "$d/sources.list.d" "$d/state/lists/partial" "$d/cache/archives/partial"
    : > "$d/sources.list.new"
    for s in "$@"; do
        echo "deb [signed-by=$BP_KEYRING] $BP_MIRROR $s main" >> "$d/sources.list.new"
    done
    mv "$d/sources.list.new" "$d/sources.list"
    rm -f "$d"/sources.list.d/*
    if ((host)); then
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
            [[ -f $f ]] && cp "$f" "$d/sources.list.d/host-${f##*/}"
        done
    fi
    cat > "$d/apt.conf" << EOF
Dir::Etc::sourcelist "$d/sources.list";
Dir::Etc::sourceparts "$d/sources.list.d";
Dir::State "$d/state/";
Dir::State::status "/var/lib/dpkg/status";
Dir::State::extended_states "/var/lib/apt/extended_states";
Dir::Cache "$d/cache/";
// the cache is root's, under build/: no _apt download sandbox
APT::Sandbox::User "root";
EOF
    if [[ ! -f $d/updated || -n $(find "$d/updated" -mmin +1440) || $d/sources.list -nt $d/updated ]]; then
        APT_CONFIG=$d/apt.conf apt-get -o DPkg::Lock::Timeout=600 -q update > "$d/update.log" 2>&1 ||
            { cat "$d/update.log" >&2; bp_die "apt-get update ($name: $*) failed"; }
        touch "$d/updated"
    fi
    echo "$d/apt.conf"
}

# bp_apt_install_from SUITE PKG...: install PKG (and what it needs) from SUITE
# (e.g. bookworm-backports) without adding SUITE to the machine's sources.
bp_apt_install_from() {
    local suite=$1 conf
    shift
    conf=$(bp_apt_conf "host+$suite" --with-host "$suite")
    bp_log "apt-get install -t $suite $* (private apt config $conf)"
    DEBIAN_FRONTEND=noninteractive APT_CONFIG=$conf "${BP_APT[@]}" install -t "$suite" "$@" > /dev/null
}

# bp_installed_from_backports PKG: is PKG installed in a bookworm-backports version?
bp_installed_from_backports() {
    [[ $(dpkg-query -W -f='${Version}' "$1" 2> /dev/null) == *~bpo12* ]]
}
