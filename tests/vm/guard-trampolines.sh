#!/bin/bash
# Where the guard's attach goes inside the kernel: one BPF_LINK_CREATE (BPF_LSM_MAC) per program,
# each a BPF trampoline registered with ftrace as a direct call. The kernel's function_graph
# tracer times the traceable functions on that path (bpf_tracing_prog_attach,
# bpf_trampoline_link_prog, the trampoline's sizing, allocation and JIT, text poking and its
# IPIs); kernel/trace/ftrace.c itself is not traceable, so the time between the traced calls is
# ftrace's own work (its hash and record updates over every function it knows).
#
#   tests/vm/guard-trampolines.sh [--kernels "trixie trixie-bpo"]
#
# Boots each kernel once (TCG, dracut's shell initrd, nothing preloaded at boot) into the test
# root; there, on fresh bpffs instances, `bpf-preload run` of counter, iter and maponly twice
# without the guard (the boot's first-use costs), then once with it under the tracer. Prints per
# kernel: the guarded run's duration and the guard's, then one line per link: its whole time,
# the traced functions' share, and the largest gaps between traced calls (where ftrace works).
# A benchmark: it asserts nothing about time; the tracer itself slows what it traces.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
KERNELS="trixie trixie-bpo"
while (($#)); do
    case $1 in
        --kernels) KERNELS=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
vm_install_packages
vm_build_project
vm_test_key
vm_root > /dev/null
vm_dracut_base > /dev/null
OBJS="counter iter maponly"
B=$(vm_bundle guard-trampolines "$OBJS")
OUT=$VM_BUILD/guard-trampolines
r=$OUT/root
vm_profile_root "$OUT" "$B"
# The traceable functions on the attach path (those a kernel lacks are named and left out).
FUNCS="__sys_bpf bpf_tracing_prog_attach bpf_trampoline_link_prog bpf_trampoline_get
arch_bpf_trampoline_size arch_alloc_bpf_trampoline bpf_prog_pack_alloc arch_prepare_bpf_trampoline
arch_protect_bpf_trampoline bpf_arch_text_copy bpf_image_ksym_add perf_event_ksymbol text_poke_copy
text_poke_queue text_poke_finish text_poke_bp smp_text_poke_batch_finish smp_call_function_many_cond
synchronize_rcu synchronize_rcu_expedited synchronize_rcu_tasks synchronize_rcu_tasks_trace"
cat > "$r/sbin/profile-run" << EOF
#!/bin/sh
# init of the profiling root: runs, prints, powers off.
PATH=/usr/bin:/usr/sbin:/bin:/sbin
exec < /dev/console > /dev/console 2>&1
[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing
T=/sys/kernel/tracing
FUNCS="$(tr '\n' ' ' <<< "$FUNCS")"
EOF
cat >> "$r/sbin/profile-run" << 'EOF'
n=0
one() { # GUARD TRACED
    n=$((n + 1))
    d=/mnt/b$n
    mkdir -p $d && mount -t bpf bpf $d
    echo "rd.bpf_preload=counter,iter,maponly rd.bpf_preload.guard=$1" > /tmp/cmd
    [ "$2" = 1 ] && echo 1 > $T/tracing_on
    bpf-preload run --cmdline /tmp/cmd --bundle /etc/profile-run/bundle \
        --keys /etc/profile-run/keys --bpffs $d --status /tmp/s$n.json > /tmp/out$n 2>&1
    echo "PROFRUN $n guard=$1 traced=$2 rc=$?"
    echo 0 > $T/tracing_on
    echo "PROFSTATUS $n $(tr -d '\n' < /tmp/s$n.json)"
}
one 0 0
one 0 0
echo 0 > $T/tracing_on
echo 32768 > $T/buffer_size_kb
for f in $FUNCS; do echo "$f" >> $T/set_ftrace_filter 2> /dev/null || echo "PROFNOFUNC $f"; done
echo 1 > $T/options/funcgraph-abstime
echo 1 > $T/options/funcgraph-proc
echo function_graph > $T/current_tracer
echo > $T/trace
one 1 1
sed "s/^/PROFTR /" $T/trace
poweroff -f
EOF
# shellcheck disable=SC2086 # one argument per kernel
vm_profile_boots "$OUT" "$B" guard-trampolines 3 $KERNELS
# shellcheck disable=SC2086 # one argument per kernel
python3 - "$OUT" $KERNELS << 'PY'
import json, re, statistics, sys
out, kernels = sys.argv[1], sys.argv[2:]
# "  24.435799 |   1)  bpf-pre-411   |   4.552 us    |  __sys_bpf();"
ROW = re.compile(r"(\d+\.\d+) \|\s+\d+\)\s+\S+\s+\|\s*[!#*+@$]?\s*([\d.]*)(?: us)?\s*\|\s+(.*)")
for k in kernels:
    text = open("%s/%s.log" % (out, k), errors="replace").read().splitlines()
    print("== %s" % k)
    for l in text:
        if l.startswith("PROFNOFUNC "):
            print("  not traceable here: " + l.split()[1])
        if l.startswith("PROFSTATUS 3 "):
            s = json.loads(l.split(" ", 2)[2])
            g = s.get("guard") or {}
            st = g.get("steps") or {}
            print("  traced guarded run: loader %.1f ms, guard %s ms, attach_ms %s" % (
                s["duration_ms"], g.get("duration_ms", "-"), st.get("attach_ms", "-")))
    rows = []
    for l in text:
        if l.startswith("PROFTR "):
            m = ROW.search(l)
            if m:
                rows.append((float(m.group(1)), m.group(3).strip()))
    links, i = [], 0
    while i < len(rows):
        if not rows[i][1].startswith("bpf_tracing_prog_attach() {"):
            i += 1
            continue
        t0, last, gaps, j = rows[i][0], rows[i][0], [], i + 1
        while j < len(rows) and not rows[j][1].startswith("__sys_bpf"):
            gap = rows[j][0] - last
            gaps.append((gap, rows[j][1][:28]))
            last = rows[j][0]
            j += 1
        whole = (last - t0) * 1000
        big = sorted(gaps, reverse=True)[:2]
        links.append(whole)
        print("  link %2d: %6.1f ms; untraced gaps: %s" % (
            len(links), whole, ", ".join("%.1f ms before %s" % (g * 1000, w) for g, w in big)))
        i = j
    if links:
        print("  %d links: %.1f ms in all, the first %.1f ms, the others median %.1f ms" % (
            len(links), sum(links), links[0], statistics.median(links[1:] or links)))
PY
