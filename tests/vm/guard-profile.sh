#!/bin/bash
# Where a guarded run's time goes, by system call: the kernel's own work (the verifier and JIT
# inside BPF_PROG_LOAD, the trampolines inside BPF_LINK_CREATE) against everything in between
# (user space: libbpf, our BTF reading, pinning, the status). Issue 24's guard ratio cannot fall
# below what the kernel's part alone costs; this measures that part.
#
#   tests/vm/guard-profile.sh [--kernels "trixie trixie-bpo"]
#
# Boots each kernel once (TCG, dracut's shell initrd, nothing preloaded at boot) into the test
# root with strace added; there, on fresh bpffs instances, `bpf-preload run` of the same three
# small objects as tests/vm/guard-ratio.sh: first run of the boot (kernel first-use costs),
# two more without the guard, then with the guard, then both once more under `strace -f -T`.
# Prints per kernel: the loader's duration_ms of each run, and for the straced runs the time in
# each kind of bpf() command and the gaps between system calls (user space), split at the
# guard's load (its light skeleton's loader, or libbpf's first guard program) and its first
# BPF_LSM_MAC link. A benchmark: it asserts nothing
# about time; strace slows the user-space side more than the kernel's.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
KERNELS="trixie trixie-bpo"
while (($#)); do
    case $1 in
        --kernels) KERNELS=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
command -v strace > /dev/null || apt-get install -y -q strace >&2
vm_install_packages
vm_build_project
vm_test_key
vm_root > /dev/null
vm_dracut_base > /dev/null
OBJS="counter iter maponly"
B=$(vm_bundle guard-profile "$OBJS")
OUT=$VM_BUILD/guard-profile
r=$OUT/root
vm_profile_root "$OUT" "$B"
mkdir -p "$r/lib/x86_64-linux-gnu" "$r/lib64"
cp /usr/bin/strace "$r/usr/bin/"
for l in $(ldd /usr/bin/strace | grep -o '/lib[^ ]*'); do cp -L "$l" "$r$l"; done
cat > "$r/sbin/profile-run" << 'EOF'
#!/bin/sh
# init of the profiling root: runs, prints, powers off.
PATH=/usr/bin:/usr/sbin:/bin:/sbin
exec < /dev/console > /dev/console 2>&1
[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
echo "VMCHECK-BEGIN"
n=0
one() { # GUARD STRACE
    n=$((n + 1))
    d=/mnt/b$n
    mkdir -p $d && mount -t bpf bpf $d
    echo "rd.bpf_preload=counter,iter,maponly rd.bpf_preload.guard=$1" > /tmp/cmd
    s=
    [ "$2" = 1 ] && s="strace -f -T -ttt -e trace=bpf,perf_event_open -o /tmp/st$n"
    $s bpf-preload run --cmdline /tmp/cmd --bundle /etc/profile-run/bundle \
        --keys /etc/profile-run/keys --bpffs $d --status /tmp/s$n.json > /tmp/out$n 2>&1
    echo "PROFRUN $n guard=$1 strace=$2 rc=$?"
    echo "PROFSTATUS $n $(tr -d '\n' < /tmp/s$n.json)"
    [ "$2" = 1 ] && sed "s/^/PROFST $n /" /tmp/st$n
}
one 0 1
one 0 0
one 0 0
one 1 0
one 0 1
one 1 1
poweroff -f
EOF
# shellcheck disable=SC2086 # one argument per kernel
vm_profile_boots "$OUT" "$B" guard-profile 6 $KERNELS
# shellcheck disable=SC2086 # one argument per kernel
python3 - "$OUT" $KERNELS << 'PY'
import json, re, sys
out, kernels = sys.argv[1], sys.argv[2:]
LINE = re.compile(r"(\d+) +([\d.]+) (.*)")
for k in kernels:
    text = open("%s/%s.log" % (out, k), errors="replace").read().splitlines()
    print("== %s" % k)
    for l in text:
        if l.startswith("PROFRUN "):
            print("  " + l)
        if l.startswith("PROFSTATUS "):
            n, js = l.split(" ", 2)[1:]
            try:
                s = json.loads(js)
            except ValueError:
                print("  run %s: no status" % n)
                continue
            g = s.get("guard") or {}
            print("  run %s: loader %.1f ms, guard %s ms, objects %s" % (
                n, s["duration_ms"], g.get("duration_ms", "-"),
                ", ".join("%s %.1f" % (o["name"], o.get("duration_ms", 0)) for o in s.get("objects", []))))
    for n in sorted({l.split()[1] for l in text if l.startswith("PROFST ")}):
        ev = []
        for l in text:
            if not l.startswith("PROFST %s " % n):
                continue
            m = LINE.match(l.split(" ", 2)[2].strip())
            if not m:
                continue
            pid, ts, rest = m.groups()
            d = re.search(r"<([\d.]+)>$", rest)
            ev.append((pid, float(ts), float(d.group(1)) if d else 0.0, rest))
        if not ev:
            continue
        merged, pending = [], {}
        for pid, ts, d, rest in ev:
            # A call another thread interrupted: named on its "unfinished" line, timed on its
            # "resumed" one.
            if "<unfinished ...>" in rest:
                pending[pid] = rest
                continue
            if rest.startswith("<... "):
                rest = pending.pop(pid, rest)
            merged.append((pid, ts, d, rest))
        # The guard's load starts at its first program's BPF_PROG_LOAD (libbpf's path) or at its
        # light skeleton's loader, the last `__loader.prog` before its first LSM link (the
        # objects' loaders come before it); its attach at that first BPF_LSM_MAC link.
        attach = next((i for i, e in enumerate(merged)
                       if "BPF_LINK_CREATE" in e[3] and "BPF_LSM_MAC" in e[3]), len(merged))
        own = [i for i, e in enumerate(merged[:attach])
               if "BPF_PROG_LOAD" in e[3] and 'prog_name="guard_' in e[3]]
        light = [i for i, e in enumerate(merged[:attach])
                 if "BPF_PROG_LOAD" in e[3] and 'prog_name="__loader.prog"' in e[3]]
        load = own[0] if own else (light[-1] if light and attach < len(merged) else len(merged))
        last, acc, cmds = ev[0][1], {}, {}
        for i, (pid, ts, d, rest) in enumerate(merged):
            phase = ("before the guard" if i < load else
                     "guard load" if i < attach else "guard attach and arm")
            a = acc.setdefault(phase, [0.0, 0.0])
            a[0] += d
            a[1] += max(0.0, ts - last)
            last = max(last, ts + d)
            c = re.match(r"bpf\((BPF_\w+)", rest)
            c = c.group(1) if c else rest.split("(")[0]
            if c == "BPF_PROG_LOAD":
                t = re.search(r"prog_type=BPF_PROG_TYPE_(\w+)", rest)
                c += " " + (t.group(1) if t else "?")
            x = cmds.setdefault(c, [0, 0.0])
            x[0] += 1
            x[1] += d
        print("  strace of run %s: %.0f ms from the first to the last call" % (n, (last - ev[0][1]) * 1000))
        for p, (sysc, gap) in acc.items():
            print("    %-22s in the kernel %7.1f ms   between calls %7.1f ms" % (p, sysc * 1000, gap * 1000))
        for c, (cnt, t) in sorted(cmds.items(), key=lambda x: -x[1][1])[:8]:
            print("    %-34s x%-3d %7.1f ms" % (c, cnt, t * 1000))
PY
