#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark: `bpf-preload run` vs. a shell hook calling `bpftool prog loadall`
# once per object, on the same 12 signed objects (build/bpf/bench_01..12).
#
#   sudo tests/bench/run.sh [-n ROUNDS]        (default 30; or BENCH_ROUNDS=N)
#
# Installs what it needs (bpftool with `autoattach`, from bookworm-backports if
# the default one lacks it; `time` for peak RSS; `file`), builds the binary and
# the objects if they are missing, signs the objects into a temporary bundle,
# then, inside a private mount namespace (unshare -m --propagation private):
#   - mounts tracefs once (neither tool pays for that in the timings),
#   - one untimed warm-up round of each tool,
#   - N rounds, each timing both tools, the order alternating every round
#     (A B, B A, ...); every single run gets a FRESH bpffs instance mounted on a
#     new temp dir, unmounted afterwards (which frees the pinned links/progs),
#   - one extra untimed round of each tool under /usr/bin/time -v for peak RSS.
# For information only, each round also times the same 12 loadall commands in
# ONE bpftool process (`bpftool batch file`): per-exec vs. per-object cost.
# Wall time is taken with bash's $EPOCHREALTIME around the command(s) (no fork
# for the clock). bpftool's timed region = one `mkdir -p` of the 12 object dirs
# + 12 `bpftool prog loadall OBJ <obj>/progs pinmaps <obj>/maps autoattach`.
#
# Targets are printed beside the figures; they are goals, not assertions. The
# script fails only if something does not work (an object not loaded, a tool
# exiting non-zero, a missing pin).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/target/x86_64-unknown-linux-gnu/release/bpf-preload
OBJDIR=$ROOT/build/bpf
NAMES=(bench_01 bench_02 bench_03 bench_04 bench_05 bench_06
       bench_07 bench_08 bench_09 bench_10 bench_11 bench_12)
ROUNDS=${BENCH_ROUNDS:-30}
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600 -y -q)

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

    # One bpf-preload run. $1 = label, $2 = optional wrapper (time -v).
    run_preload() {
        local label=$1 t0 t1 rc=0
        new_fs
        t0=$EPOCHREALTIME
        ${WRAP:+$WRAP} "$BIN" run --cmdline "$W/cmdline" --bundle "$W/bundle" \
            --keys "$W/keys" --bpffs "$FS" --status "$R/status-$label.json" \
            >"$R/preload-$label.out" 2>&1 || rc=$?
        t1=$EPOCHREALTIME
        if [[ $rc -ne 0 ]]; then
            cat "$R/preload-$label.out" >&2
            die "bpf-preload run exited $rc ($label)"
        fi
        local n
        n=$(grep -c '"result": "loaded"' "$R/status-$label.json" || true)
        [[ $n -eq ${#NAMES[@]} ]] || die "bpf-preload: only $n of ${#NAMES[@]} objects loaded ($label), see $R/status-$label.json"
        local pins
        pins=$(find "$FS"/bench_*/links "$FS"/bench_*/maps -mindepth 1 | wc -l)
        [[ $pins -eq $((6 * ${#NAMES[@]})) ]] || die "bpf-preload: $pins pins, expected $((6 * ${#NAMES[@]})) ($label)"
        drop_fs
        LAST_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 }')
    }

    # The shell-hook equivalent: one bpftool invocation per object.
    run_bpftool() {
        local label=$1 t0 t1 n rc=0
        local dirs=()
        new_fs
        for n in "${NAMES[@]}"; do dirs+=("$FS/$n"); done
        t0=$EPOCHREALTIME
        mkdir -p "${dirs[@]}"
        for n in "${NAMES[@]}"; do
            ${WRAP:+$WRAP} bpftool prog loadall "$W/bundle/$n.bpf.o" "$FS/$n/progs" \
                pinmaps "$FS/$n/maps" $ATTACH >>"$R/bpftool-$label.out" 2>&1 || { rc=$?; break; }
        done
        t1=$EPOCHREALTIME
        if [[ $rc -ne 0 ]]; then
            cat "$R/bpftool-$label.out" >&2
            die "bpftool prog loadall $n exited $rc ($label)"
        fi
        local pins
        pins=$(find "$FS"/bench_*/progs "$FS"/bench_*/maps -mindepth 1 | wc -l)
        [[ $pins -eq $((6 * ${#NAMES[@]})) ]] || die "bpftool: $pins pins, expected $((6 * ${#NAMES[@]})) ($label)"
        if [[ $label == warmup && -n $ATTACH ]]; then
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
        LAST_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 }')
    }

    # Informational only: the same 12 loadall commands in ONE bpftool process
    # (`bpftool batch file`), to separate per-exec cost from per-object cost.
    # bpftool 7.5's batch mode exits 255 with "reading batch file failed: File
    # exists" (a stale errno from its mkdir) even when every command worked, so
    # it is judged by its pins and by having no other error.
    local n
    : >"$W/batch"
    for n in "${NAMES[@]}"; do
        echo "prog loadall $W/bundle/$n.bpf.o $FS_PLACEHOLDER/$n/progs pinmaps $FS_PLACEHOLDER/$n/maps $ATTACH" >>"$W/batch"
    done
    run_batch() {
        local label=$1 t0 t1 n rc=0
        local dirs=()
        new_fs
        sed "s|$FS_PLACEHOLDER|$FS|g" "$W/batch" >"$W/batch-now"
        for n in "${NAMES[@]}"; do dirs+=("$FS/$n"); done
        t0=$EPOCHREALTIME
        mkdir -p "${dirs[@]}"
        bpftool batch file "$W/batch-now" >"$R/batch-$label.out" 2>&1 || rc=$?
        t1=$EPOCHREALTIME
        if [[ $rc -ne 0 ]] && grep -v 'reading batch file failed' "$R/batch-$label.out" | grep -q 'Error'; then
            cat "$R/batch-$label.out" >&2
            die "bpftool batch exited $rc ($label)"
        fi
        local pins
        pins=$(find "$FS"/bench_*/progs "$FS"/bench_*/maps -mindepth 1 | wc -l)
        [[ $pins -eq $((6 * ${#NAMES[@]})) ]] || die "bpftool batch: $pins pins, expected $((6 * ${#NAMES[@]})) ($label)"
        drop_fs
        LAST_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 }')
    }

    WRAP=
    log "warm-up round (untimed)"
    run_preload warmup
    run_bpftool warmup
    run_batch warmup

    local r
    : >"$R/preload.ms"
    : >"$R/bpftool.ms"
    : >"$R/batch.ms"
    log "$ROUNDS timed rounds, alternating order"
    for ((r = 1; r <= ROUNDS; r++)); do
        local lbl
        lbl=$(printf 'r%02d' "$r")
        if ((r % 2)); then
            run_preload "$lbl"; echo "$LAST_MS" >>"$R/preload.ms"
            run_bpftool "$lbl"; echo "$LAST_MS" >>"$R/bpftool.ms"
            run_batch "$lbl"; echo "$LAST_MS" >>"$R/batch.ms"
        else
            run_batch "$lbl"; echo "$LAST_MS" >>"$R/batch.ms"
            run_bpftool "$lbl"; echo "$LAST_MS" >>"$R/bpftool.ms"
            run_preload "$lbl"; echo "$LAST_MS" >>"$R/preload.ms"
        fi
        rm -f "$R/bpftool-$lbl.out"
    done

    log "peak RSS round (untimed, under /usr/bin/time -v)"
    WRAP="/usr/bin/time -v -a -o $R/rss-preload.txt"
    run_preload rss
    WRAP="/usr/bin/time -v -a -o $R/rss-bpftool.txt"
    run_bpftool rss
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
        -h|--help) sed -n '3,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (use -n ROUNDS)" ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "rounds must be a positive integer"
[[ $(id -u) -eq 0 ]] || die "must run as root (mounts, BPF loading)"

APT_UPDATED=
apt_install() {
    if [[ -z $APT_UPDATED ]]; then
        "${APT[@]}" update >/dev/null || die "apt-get update failed"
        APT_UPDATED=1
    fi
    log "installing $*"
    "${APT[@]}" install "$@" >/dev/null || die "apt-get install $* failed"
}
has_autoattach() { command -v bpftool >/dev/null && bpftool prog help 2>&1 | grep -q autoattach; }

command -v file >/dev/null || apt_install file
[[ -x /usr/bin/time ]] || apt_install time
command -v python3 >/dev/null || apt_install python3
command -v unshare >/dev/null || apt_install util-linux

if ! has_autoattach; then
    command -v bpftool >/dev/null || apt_install bpftool
fi
if ! has_autoattach && grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then
    # bookworm's bpftool 7.1 cannot autoattach; bookworm-backports has 7.5.
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        mirror=$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
                 head -n1 | tr -d ' ')
        echo "deb ${mirror:-http://deb.debian.org/debian} bookworm-backports main" \
            >/etc/apt/sources.list.d/bookworm-backports.list
        APT_UPDATED=
    fi
    apt_install -t bookworm-backports bpftool
fi
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
    (cd "$ROOT" && cargo build --release) >&2 || die "cargo build --release failed"
fi
missing=0
for n in "${NAMES[@]}"; do [[ -f $OBJDIR/$n.bpf.o ]] || missing=1; done
if [[ $missing -eq 1 ]]; then
    command -v clang >/dev/null && [[ -f /usr/include/bpf/bpf_helpers.h ]] ||
        apt_install clang libbpf-dev linux-libc-dev make
    log "building objects (make -C bpf)"
    make -C "$ROOT/bpf" >&2 || die "make -C bpf failed"
fi

# libbpf turns every '.' of a pin path into '_' (sanitize_pin_path), so the
# work dir must not contain one: no mktemp default template.
W=$(mktemp -d /tmp/bpf-preload-bench-XXXXXX)
[[ $W != *.* ]] || die "work dir $W contains a dot"
trap 'rm -rf "$W"' EXIT
mkdir "$W/bundle" "$W/keys"
cp "$ROOT/keys/test-only/signing-key.pub" "$W/keys/"
for n in "${NAMES[@]}"; do
    "$BIN" sign --key "$ROOT/keys/test-only/signing-key.pem" \
        --output "$W/bundle/$n.bpf.o" "$OBJDIR/$n.bpf.o" >/dev/null
done
(IFS=,; echo "rd.bpf_preload=${NAMES[*]}") >"$W/cmdline"

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
FILE_OUT=$(file -b "$BIN")
case $FILE_OUT in
    *static-pie\ linked*|*statically\ linked*) ;;
    *) die "binary is not static: $FILE_OUT" ;;
esac

export W SIZE FILE_OUT BPFTOOL_MODE ROUNDS STATIC_CHECK
export BPFTOOL_VERSION=$(bpftool version 2>/dev/null | head -n1)
export KERNEL=$(uname -r) NCPU=$(nproc) LOADAVG_START LOADAVG_END=$(cut -d" " -f1-3 /proc/loadavg)
python3 - <<'EOF'
import json, os, re, statistics as st

W = os.environ["W"]; R = f"{W}/results"
def ms(path): return [float(x) for x in open(path).read().split()]
pre, bt, ba = ms(f"{R}/preload.ms"), ms(f"{R}/bpftool.ms"), ms(f"{R}/batch.ms")
n = len(pre)

def p90(xs):
    s = sorted(xs); return s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]
def line(name, xs):
    return (f"  {name:<28} median {st.median(xs):8.1f} ms   min {min(xs):7.1f}   "
            f"p90 {p90(xs):7.1f}   max {max(xs):7.1f}")

# Per-round figures from bpf-preload's own status file.
over, sdur, ratio_sd, ph = [], [], [], {"verify_ms": [], "load_ms": [], "pin_ms": []}
for i, wall in enumerate(pre, 1):
    s = json.load(open(f"{R}/status-r{i:02d}.json"))
    assert s["error"] is None and all(o["result"] == "loaded" for o in s["objects"])
    tot = {k: sum(o["phases"][k] for o in s["objects"]) for k in ph}
    for k in ph: ph[k].append(tot[k])
    over.append((tot["verify_ms"] + tot["pin_ms"]) / wall * 100)
    sdur.append(s["duration_ms"]); ratio_sd.append(s["duration_ms"] / wall * 100)

def rss(path):
    v = [int(x) for x in re.findall(r"Maximum resident set size \(kbytes\): (\d+)", open(path).read())]
    return max(v), len(v)
rp, _ = rss(f"{R}/rss-preload.txt")
rb, nb = rss(f"{R}/rss-bpftool.txt")

size = int(os.environ["SIZE"])
ratio = st.median(pre) / st.median(bt)
ov = st.median(over)
def tgt(ok): return "met" if ok else "MISSED"

print(f"""
bpf-preload benchmark: 12 signed objects (bench_01..bench_12), 3 auto-attached
tracepoint/raw_tp programs + 3 maps each; {n} rounds, order alternating, fresh bpffs
per run, private mount namespace.
  kernel {os.environ['KERNEL']}, {os.environ['NCPU']} CPUs; {os.environ['BPFTOOL_VERSION']}
  load average before/after: {os.environ['LOADAVG_START']} / {os.environ['LOADAVG_END']} (other work on the host adds noise)
  bpftool side: {os.environ['BPFTOOL_MODE']}
                one process per object, as a shell hook does (plus one mkdir -p)

wall time (load + attach + pin all 12 objects)
{line('bpf-preload run', pre)}
{line('bpftool loop (12 execs)', bt)}
  ratio bpf-preload / bpftool (medians) {ratio:.2f}x        target <= 0.50x  [{tgt(ratio <= 0.5)}]
  for information, not the comparison (a hook does not do this):
{line('bpftool batch (1 process)', ba)}
  -> per-object cost in one process: bpftool {st.median(ba) / 12:.1f} ms, bpf-preload {st.median(pre) / 12:.1f} ms;
     exec + start-up per bpftool process ~ {(st.median(bt) - st.median(ba)) / 11:.1f} ms

bpf-preload time breakdown (status file, medians over rounds; sums over the 12 objects)
  verify_ms {st.median(ph['verify_ms']):7.1f}   load_ms {st.median(ph['load_ms']):7.1f}   pin_ms {st.median(ph['pin_ms']):7.1f}
  status duration_ms {st.median(sdur):7.1f} = {st.median(ratio_sd):.1f} % of wall (rest: exec, startup, key loading, status write, exit)
  self-overhead (verify_ms + pin_ms) / wall  {ov:.2f} %       target <= 5 %     [{tgt(ov <= 5)}]

binary  {size} bytes ({size / 1048576:.2f} MiB)            target <= 2.5 MiB  [{tgt(size <= 2.5 * 1048576)}]
  file: {os.environ['FILE_OUT']}
peak RSS (Maximum resident set size, /usr/bin/time -v)
  bpf-preload run (all 12)    {rp / 1024:6.2f} MiB ({rp} KiB)   target <= 8 MiB    [{tgt(rp <= 8 * 1024)}]
  bpftool (max of {nb} execs)   {rb / 1024:6.2f} MiB ({rb} KiB)
empty-chroot check (tests/bench/static-check.sh)""")
for l in os.environ["STATIC_CHECK"].splitlines():
    print("  " + l[:150])
EOF
