// SPDX-License-Identifier: GPL-2.0
// Interop test of signed-only mode: loads a light skeleton that `bpftool gen skeleton -L -S`
// (bpftool 7.8) signed with the trusted test certificate, against keyring serial argv[1] (the
// loader's). Built static by tests/vm/lib.sh vm_ksig_files from counter.lskel.h; prints "ok"
// or the errno's text.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "counter.lskel.h"

int main(int argc, char **argv)
{
	struct counter *s = counter__open();
	int err;

	if (!s || argc != 2) {
		fprintf(stderr, "usage: lskel-load KEYRING\n");
		return 2;
	}
	s->keyring_id = atoi(argv[1]);
	err = counter__load(s);
	if (err) {
		printf("%s\n", strerror(-err));
		return 1;
	}
	printf("ok\n");
	return 0;
}
