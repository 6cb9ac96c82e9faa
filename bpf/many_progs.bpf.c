// SPDX-License-Identifier: GPL-2.0
/*
 * many_progs: 33 loaded programs (xdp: loaded, pinned, not attached). libbpf's gen_loader keeps
 * the fds of at most 32 programs on the loader's stack (MAX_USED_PROGS); a 33rd makes a loader
 * the verifier refuses. `sign` must sign it as version 1 ("more than 32 programs"). The
 * libbpf path loads it.
 */
#include "core_types.h"

#define PROG(n)                                                                                \
	SEC("xdp") int many_progs_##n(void *ctx) { return 2; }
#define PROG8(n) PROG(n##0) PROG(n##1) PROG(n##2) PROG(n##3) PROG(n##4) PROG(n##5) PROG(n##6) PROG(n##7)

PROG8(0) PROG8(1) PROG8(2) PROG8(3)
PROG(40)

char LICENSE[] SEC("license") = "GPL";
