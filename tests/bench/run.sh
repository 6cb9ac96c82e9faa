#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark: `bpf-preload run` (fast path: signed light skeletons run in the
# kernel) vs. `bpf-preload run` on the same objects signed --no-fast-path (the
# libbpf path) vs. a shell hook calling `bpftool prog loadall` once per object,
# on the same 12 signed objects (build/bpf/bench_01..12), and the reference for
# the kernel's own time: the same 12 objects as light skeletons (bpftool gen
# skeleton -L) loaded and attached by one small static C program
# (tests/bench/reference.c, built here), as the kernel's own bpf_preload does.
#
#   sudo tests/bench/run.sh [-n ROUNDS]        (default 30; or BENCH_ROUNDS=N)
#
# Installs what it needs with tests/deps.sh bench (bpftool with `autoattach`,
# from bookworm-backports through a private apt configuration if the default one
# lacks it; `time` for peak RSS; `file`), builds the binary and
# the objects if they are missing, signs the objects into a temporary bundle,
# then, inside a private mount namespace (unshare -m --propagation private):
#   - mounts tracefs once (no tool pays for that in the timings),
#   - mounts a tmpfs for bpf-preload's status file, as at boot (/run is a tmpfs there;
#     each file is moved to the results after its run, untimed): on the host's ext4,
#     replacing a file by rename starts its writeback at once (auto_da_alloc), about
#     0.45 ms of every run here that a boot never pays,
#   - one untimed warm-up round of each tool,
#   - N rounds, each timing every tool, the order reversed every round
#     (A B, B A, ...); every single run gets a FRESH bpffs instance mounted on a
#     new temp dir, unmounted afterwards (which frees the pinned links/progs),
#     and the next run starts 0.3 s after the kernel has freed every bench
#     program (its teardown slows a run started earlier by ~100 ms),
#   - one extra untimed round of each tool under /usr/bin/time -v for peak RSS.
# For information only, each round also times the same 12 loadall commands in
# ONE bpftool process (`bpftool batch file`): per-exec vs. per-object cost.
# Wall time is taken with bash's $EPOCHREALTIME around the command(s) (no fork
# for the clock). bpftool's timed region = one `mkdir -p` of the 12 object dirs
# + 12 `bpftool prog loadall OBJ <obj>/progs pinmaps <obj>/maps autoattach`.
# The reference's timed region ends when it prints that all 36 programs are
# attached: it pins nothing, so its exit detaches and frees everything, about a
# second of kernel work that the pinned tools never do; that exit is not timed.
#
# Targets are printed beside the figures; they are goals, not assertions. The
# script fails only if something does not work (an object not loaded, a tool
# exiting non-zero, a missing pin).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../common.sh
source "$ROOT/tests/common.sh"
BIN=$(bp_bin)
OBJDIR=$ROOT/build/bpf
NAMES=(bench_01 bench_02 bench_03 bench_04 bench_05 bench_06
       bench_07 bench_08 bench_09 bench_10 bench_11 bench_12)
ROUNDS=${BENCH_ROUNDS:-30}

die() { echo "bench: ERROR: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------------------
# Inner part: runs inside the private mount namespace.
# ---------------------------------------------------------------------------
inner() {
    local W=$1 ATTACH=$2
    local FS_PLACEHOLDER=@FS@
    local R=$W/results
    mkdir -p "$R"

    # tracepoint/ programs need tracefs when attached. Mount it once here so
    # that neither bpf-preload (which would mount it itself) nor libbpf inside
    # bpftool (which would fail to attach) pays for it in the timed region.
    if ! mountpoint -q /sys/kernel/tracing; then
        mount -t tracefs tracefs /sys/kernel/tracing
    fi

    # The status files' tmpfs (see the top).
    local RUN=$W/run
    mkdir -p "$RUN"
    mount -t tmpfs -o mode=0755 tmpfs "$RUN"

    local iter=0
    new_fs() {  # fresh bpffs instance on a new dir -> $FS
        iter=$((iter + 1))
        FS=$W/fs$iter
        mkdir "$FS"
        mount -t bpf bpf "$FS"
    }
    drop_fs() {
        umount "$FS"
        rmdir "$FS"
    }
    # The kernel frees what an unmounted bpffs held asynchronously (the 36
    # programs are gone after about 70 ms) and is not done then: a run started
    # as soon as the last bench program disappeared was still ~100 ms slower,
    # one started 0.1 s later was not. So wait for the programs to go, then
    # 0.3 s more, before the next timed run, whichever tool it is.
    settle() {
        local i
        for ((i = 0; i < 1000; i++)); do
            bpftool prog show 2>/dev/null | grep -q ' name bench[0-9]' || break
            sleep 0.01
        done
        ((i < 1000)) || log "WARNING: bench programs still loaded 10 s after a run"
        sleep 0.3
    }

    # The batch file of the informational `bpftool batch` run: the same 12
    # loadall commands in ONE bpftool process, to separate per-exec cost from
    # per-object cost. @FS@ becomes each run's bpffs.
    local n
    : >"$W/batch"
    for n in "${NAMES[@]}"; do
        echo "prog loadall $W/bundle/$n.bpf.o $FS_PLACEHOLDER/$n/progs pinmaps $FS_PLACEHOLDER/$n/maps $ATTACH" >>"$W/batch"
    done

    # run_tool TOOL LABEL: one timed run on a fresh bpffs -> $LAST_MS. TOOL is
    #   preload  one `bpf-preload run` of the 12 objects
    #   seq      the same with --sequential (one object after another)
    #   lskel    the reference: one process loading the 12 light skeletons
    #            (tests/bench/reference.c); timed until it says all are attached,
    #            its exit (which detaches and frees everything) is not timed
    #   bpftool  the shell-hook equivalent: mkdir -p + one bpftool per object
    #   batch    for information: mkdir -p + the 12 loadall in one `bpftool batch`
    # $WRAP (e.g. /usr/bin/time -v) wraps each preload/bpftool process.
    run_tool() {
        local tool=$1 label=$2 out=$R/$1-$2.out t0 t1='' n at='' rc=0 pins sub=progs line=''
        local dirs=()
        new_fs
        for n in "${NAMES[@]}"; do dirs+=("$FS/$n"); done
        [[ $tool == batch ]] && sed "s|$FS_PLACEHOLDER|$FS|g" "$W/batch" >"$W/batch-now"
        t0=$EPOCHREALTIME
        case $tool in
            preload)
                ${WRAP:+$WRAP} "$BIN" run --cmdline "$W/cmdline" --bundle "$W/bundle" \
                    --keys "$W/keys" --bpffs "$FS" --status "$RUN/status-$label.json" \
                    >"$out" 2>&1 || rc=$? ;;
            seq)
                "$BIN" run --sequential --cmdline "$W/cmdline" --bundle "$W/bundle" \
                    --keys "$W/keys" --bpffs "$FS" --status "$RUN/status-seq-$label.json" \
                    >"$out" 2>&1 || rc=$? ;;
            libbpf)
                "$BIN" run --cmdline "$W/cmdline" --bundle "$W/bundle-libbpf" \
                    --keys "$W/keys" --bpffs "$FS" --status "$RUN/status-libbpf-$label.json" \
                    >"$out" 2>&1 || rc=$? ;;
            bpftool)
                mkdir -p "${dirs[@]}"
                for n in "${NAMES[@]}"; do
                    ${WRAP:+$WRAP} bpftool prog loadall "$W/bundle/$n.bpf.o" "$FS/$n/progs" \
                        pinmaps "$FS/$n/maps" $ATTACH >>"$out" 2>&1 || { rc=$? at=$n; break; }
                done ;;
            batch)
                mkdir -p "${dirs[@]}"
                bpftool batch file "$W/batch-now" >"$out" 2>&1 || rc=$? ;;
            lskel)
                coproc REF { exec "$W/ref/reference" 2>"$out"; }
                read -r line <&"${REF[0]}" || true
                t1=$EPOCHREALTIME
                # Untimed: close its stdin, let it exit (detaching everything), reap it.
                local pid=$REF_PID wfd=${REF[1]}
                exec {wfd}>&-
                wait "$pid" || rc=$?
                [[ $line == "links=$((3 * ${#NAMES[@]}))" ]] || { cat "$out" >&2; die "reference: '$line' ($label)"; } ;;
        esac
        [[ -n $t1 ]] || t1=$EPOCHREALTIME
        local f
        for f in "$RUN"/status-*.json; do
            if [[ -e $f ]]; then mv "$f" "$R/"; fi
        done
        # bpftool 7.5's batch mode exits 255 with "reading batch file failed: File
        # exists" (a stale errno from its mkdir) even when every command worked, so
        # it is judged by its pins and by having no other error.
        if [[ $tool == batch && $rc -ne 0 ]] && ! grep -v 'reading batch file failed' "$out" | grep -q 'Error'; then
            rc=0
        fi
        if [[ $rc -ne 0 ]]; then
            cat "$out" >&2
            die "$tool exited $rc ($label${at:+, object $at})"
        fi
        [[ $tool == preload || $tool == seq || $tool == libbpf ]] && sub=links
        if [[ $tool != lskel ]]; then
            pins=$(find "$FS"/bench_*/$sub "$FS"/bench_*/maps -mindepth 1 | wc -l)
            [[ $pins -eq $((6 * ${#NAMES[@]})) ]] || die "$tool: $pins pins, expected $((6 * ${#NAMES[@]})) ($label)"
        fi
        if [[ $tool == preload ]]; then
            n=$(grep -c '"result": "loaded"' "$R/status-$label.json" || true)
            [[ $n -eq ${#NAMES[@]} ]] || die "bpf-preload: only $n of ${#NAMES[@]} objects loaded ($label), see $R/status-$label.json"
            n=$(grep -c '"load_path": "fast"' "$R/status-$label.json" || true)
            [[ $n -eq ${#NAMES[@]} ]] || die "bpf-preload: only $n of ${#NAMES[@]} objects on the fast path ($label)"
        fi
        if [[ $tool == seq ]]; then
            n=$(grep -c '"load_path": "fast"' "$R/status-seq-$label.json" || true)
            [[ $n -eq ${#NAMES[@]} ]] || die "bpf-preload --sequential: only $n of ${#NAMES[@]} objects loaded on the fast path ($label)"
        fi
        if [[ $tool == libbpf ]]; then
            n=$(grep -c '"load_path": "libbpf"' "$R/status-libbpf-$label.json" || true)
            [[ $n -eq ${#NAMES[@]} ]] || die "bpf-preload (libbpf path): only $n of ${#NAMES[@]} objects loaded ($label)"
        fi
        if [[ $tool == bpftool && $label == warmup && -n $ATTACH ]]; then
            # autoattach pins links (not programs) under progs/: prove it once.
            # (bpftool 7.5 `link show pinned` exits 255 even when it prints the
            # link, so judge by its JSON output, not its exit code.)
            local p
            for p in "$FS"/bench_*/progs/*; do
                [[ $(bpftool -j link show pinned "$p" 2>/dev/null || true) == *'"prog_id"'* ]] ||
                    die "bpftool: $p is not a link: autoattach did not attach"
            done
        fi
        drop_fs
        settle
        LAST_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 }')
    }

    WRAP=
    log "warm-up round (untimed)"
    run_tool preload warmup
    run_tool seq warmup
    run_tool lskel warmup
    run_tool libbpf warmup
    run_tool bpftool warmup
    run_tool batch warmup

    local r
    : >"$R/preload.ms"
    : >"$R/seq.ms"
    : >"$R/lskel.ms"
    : >"$R/libbpf.ms"
    : >"$R/bpftool.ms"
    : >"$R/batch.ms"
    log "$ROUNDS timed rounds, alternating order"
    for ((r = 1; r <= ROUNDS; r++)); do
        local lbl order t
        lbl=$(printf 'r%02d' "$r")
        if ((r % 2)); then
            order="preload seq lskel libbpf bpftool batch"
        else
            order="batch bpftool libbpf lskel seq preload"
        fi
        for t in $order; do
            run_tool "$t" "$lbl"; echo "$LAST_MS" >>"$R/$t.ms"
        done
        rm -f "$R/bpftool-$lbl.out"
    done

    log "peak RSS round (untimed, under /usr/bin/time -v)"
    WRAP="/usr/bin/time -v -a -o $R/rss-preload.txt"
    run_tool preload rss
    WRAP="/usr/bin/time -v -a -o $R/rss-bpftool.txt"
    run_tool bpftool rss
    WRAP=
}

if [[ ${1:-} == --inner ]]; then
    shift
    ROUNDS=$3
    inner "$1" "$2"
    exit 0
fi

# ---------------------------------------------------------------------------
# Outer part: arguments, dependencies, build, signing, then the namespace.
# ---------------------------------------------------------------------------
while [[ $# -gt 0 ]]; do
    case $1 in
        -n|--rounds) ROUNDS=$2; shift 2 ;;
        -h|--help) sed -n '3,38p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (use -n ROUNDS)" ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "rounds must be a positive integer"
[[ $(id -u) -eq 0 ]] || die "must run as root (mounts, BPF loading)"

# What the benchmark needs (tests/deps.sh bench: bpftool with autoattach from
# bookworm-backports through a private apt configuration, time, the build deps).
"$ROOT/tests/deps.sh" bench || die "tests/deps.sh bench failed"
has_autoattach() { command -v bpftool >/dev/null && bpftool prog help 2>&1 | grep -q autoattach; }
if has_autoattach; then
    ATTACH=autoattach
    BPFTOOL_MODE="bpftool prog loadall ... autoattach (loads AND attaches: same work as bpf-preload)"
else
    ATTACH=
    BPFTOOL_MODE="bpftool prog loadall ... WITHOUT autoattach: bpftool does NOT attach (less work than bpf-preload)"
    log "WARNING: $BPFTOOL_MODE"
fi

if [[ ! -x $BIN ]]; then
    log "building $BIN"
    bp_build >/dev/null
fi
missing=0
for n in "${NAMES[@]}"; do [[ -f $OBJDIR/$n.bpf.o ]] || missing=1; done
if [[ $missing -eq 1 ]]; then
    log "building objects (make -C bpf)"
    make -C "$ROOT/bpf" >&2 || die "make -C bpf failed"
fi

# libbpf turns every '.' of a pin path into '_' (sanitize_pin_path), so the
# work dir must not contain one: no mktemp default template.
W=$(mktemp -d /tmp/bpf-preload-bench-XXXXXX)
[[ $W != *.* ]] || die "work dir $W contains a dot"
trap 'rm -rf "$W"' EXIT
mkdir "$W/bundle" "$W/bundle-libbpf" "$W/keys"
cp "$ROOT/keys/test-only/signing-key.pub" "$W/keys/"
# bundle: signed with the fast path (the default); bundle-libbpf: --no-fast-path.
for n in "${NAMES[@]}"; do
    "$BIN" sign --key "$ROOT/keys/test-only/signing-key.pem" \
        --output "$W/bundle/$n.bpf.o" "$OBJDIR/$n.bpf.o" >/dev/null
    "$BIN" sign --no-fast-path --key "$ROOT/keys/test-only/signing-key.pem" \
        --output "$W/bundle-libbpf/$n.bpf.o" "$OBJDIR/$n.bpf.o" >/dev/null
done
(IFS=,; echo "rd.bpf_preload=${NAMES[*]}") >"$W/cmdline"

# The reference for "the kernel's own time": the same 12 objects as light
# skeletons (bpftool gen skeleton -L), loaded and attached by one small static C
# program the way the kernel's own bpf_preload does it (tests/bench/reference.c,
# libbpf's skel_internal.h from libbpf-dev). Built here, from the objects.
mkdir "$W/ref"
: >"$W/ref/objects.h"
loads=
for n in "${NAMES[@]}"; do
    bpftool gen skeleton -L "$OBJDIR/$n.bpf.o" name "$n" >"$W/ref/$n.lskel.h" ||
        die "bpftool gen skeleton -L $n failed"
    echo "#include \"$n.lskel.h\"" >>"$W/ref/objects.h"
    loads+=" LOAD(${n#bench_})"
done
echo "#define OBJECTS$loads" >>"$W/ref/objects.h"
gcc -O2 -static -Wall -Werror -I"$W/ref" -o "$W/ref/reference" "$ROOT/tests/bench/reference.c" ||
    die "building the light-skeleton reference failed"

LOADAVG_START=$(cut -d" " -f1-3 /proc/loadavg)
unshare -m --propagation private "$0" --inner "$W" "$ATTACH" "$ROUNDS" ||
    die "benchmark run failed"

STATIC_CHECK=$("$ROOT/tests/bench/static-check.sh" "$BIN" 2>&1) || {
    echo "$STATIC_CHECK" >&2
    die "static check (empty chroot) failed"
}

# ---------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------
SIZE=$(stat -c %s "$BIN")
INITRD_BIN=$(bp_initrd_bin)
SIZE_INITRD=$(stat -c %s "$INITRD_BIN" 2>/dev/null || echo 0)
FILE_OUT=$(file -b "$BIN")
case $FILE_OUT in
    *static-pie\ linked*|*statically\ linked*) ;;
    *) die "binary is not static: $FILE_OUT" ;;
esac

export W SIZE SIZE_INITRD INITRD_BIN FILE_OUT BPFTOOL_MODE ROUNDS STATIC_CHECK
BPFTOOL_VERSION=$(bpftool version 2>/dev/null | head -n1)
KERNEL=$(uname -r) NCPU=$(nproc) LOADAVG_END=$(cut -d" " -f1-3 /proc/loadavg)
export BPFTOOL_VERSION KERNEL NCPU LOADAVG_START LOADAVG_END
python3 "$ROOT/tests/bench/report.py"
