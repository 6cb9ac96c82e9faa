// SPDX-License-Identifier: GPL-2.0
/*
 * The built-in iterators (docs/status.md, "maps.debug, progs.debug, links.debug"): what the
 * kernel's own bpf_preload (kernel/bpf/preload/iterators/iterators.bpf.c) pins as maps.debug and
 * progs.debug in every bpffs when it is built with CONFIG_BPF_PRELOAD, in the same format, plus
 * links.debug; a program or link of a preloaded object ends with "object=NAME", from a table
 * the loader fills and freezes before it pins anything.
 *
 * Kernel structures are declared with the fields read only, relocated by CO-RE against the
 * running kernel's BTF, so one object serves 6.1 to 7.x; a field a kernel lacks is checked with
 * bpf_core_field_exists() and the column falls back as the kernel's own would.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

/* libbpf >= 1.2 has it; the same test otherwise: a weak extern left unresolved is 0. */
#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym) (!!(sym))
#endif

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_map {
	__u32 id;
	char name[16];
	__u32 max_entries;
};

struct bpf_iter__bpf_map {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
};

struct btf_type {
	__u32 name_off;
};

struct btf_header {
	__u32 str_len;
};

struct btf {
	const char *strings;
	struct btf_type **types;
	struct btf_header hdr;
};

struct bpf_prog_aux {
	__u32 id;
	char name[16];
	const char *attach_func_name;
	struct bpf_prog *dst_prog;
	struct bpf_func_info *func_info;
	struct btf *btf;
};

struct bpf_prog {
	struct bpf_prog_aux *aux;
};

struct bpf_iter__bpf_prog {
	struct bpf_iter_meta *meta;
	struct bpf_prog *prog;
};

struct bpf_link {
	__u32 id;
	enum bpf_link_type type;
	struct bpf_prog *prog;
};

struct bpf_iter__bpf_link {
	struct bpf_iter_meta *meta;
	struct bpf_link *link;
};

struct tracepoint {
	const char *name;
};

struct bpf_raw_event_map {
	struct tracepoint *tp;
};

struct bpf_raw_tp_link {
	struct bpf_link link;
	struct bpf_raw_event_map *btp;
};
#pragma clang attribute pop

/* Newer kernels (6.6) count a map's elements; the kernel's maps.debug then has cur_entries. */
extern __s64 bpf_map_sum_elem_count(struct bpf_map *map) __ksym __weak;

/* The loader's table: which preloaded object a program or link belongs to. Keys and the name
 * length are format/src/iterators.rs's (NAME_KIND_PROG, NAME_KIND_LINK, NAME_LEN). */
#define NAME_KIND_PROG 0
#define NAME_KIND_LINK 1
#define NAME_LEN 64
#define MAX_NAMES 4096

struct name_key {
	__u32 kind;
	__u32 id;
};

struct name_val {
	char name[NAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_NAMES);
	__type(key, struct name_key);
	__type(value, struct name_val);
} obj_names SEC(".maps");

static __always_inline struct name_val *object_of(__u32 kind, __u32 id)
{
	struct name_key k = { .kind = kind, .id = id };

	return bpf_map_lookup_elem(&obj_names, &k);
}

static const char *get_name(struct btf *btf, long btf_id, const char *fallback)
{
	struct btf_type **types, *t;
	unsigned int name_off;
	const char *str;

	if (!btf || !bpf_core_field_exists(btf->types))
		return fallback;
	str = btf->strings;
	types = btf->types;
	bpf_probe_read_kernel(&t, sizeof(t), types + btf_id);
	name_off = BPF_CORE_READ(t, name_off);
	if (name_off >= btf->hdr.str_len)
		return fallback;
	return str + name_off;
}

SEC("iter/bpf_map")
int dump_bpf_map(struct bpf_iter__bpf_map *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	__u64 seq_num = ctx->meta->seq_num;
	struct bpf_map *map = ctx->map;

	if (!map)
		return 0;

	if (bpf_ksym_exists(bpf_map_sum_elem_count)) {
		if (seq_num == 0)
			BPF_SEQ_PRINTF(seq, "  id name             max_entries  cur_entries\n");
		BPF_SEQ_PRINTF(seq, "%4u %-16s  %10d   %10lld\n", map->id, map->name,
			       map->max_entries, bpf_map_sum_elem_count(map));
		return 0;
	}
	if (seq_num == 0)
		BPF_SEQ_PRINTF(seq, "  id name             max_entries\n");
	BPF_SEQ_PRINTF(seq, "%4u %-16s%6d\n", map->id, map->name, map->max_entries);
	return 0;
}

SEC("iter/bpf_prog")
int dump_bpf_prog(struct bpf_iter__bpf_prog *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	__u64 seq_num = ctx->meta->seq_num;
	struct bpf_prog *prog = ctx->prog;
	struct bpf_prog_aux *aux;
	struct name_val *obj;

	if (!prog)
		return 0;

	aux = prog->aux;
	if (seq_num == 0)
		BPF_SEQ_PRINTF(seq, "  id name             attached\n");

	obj = object_of(NAME_KIND_PROG, aux->id);
	if (obj)
		BPF_SEQ_PRINTF(seq, "%4u %-16s %s %s object=%s\n", aux->id,
			       get_name(aux->btf, aux->func_info[0].type_id, aux->name),
			       aux->attach_func_name, aux->dst_prog->aux->name, obj->name);
	else
		BPF_SEQ_PRINTF(seq, "%4u %-16s %s %s\n", aux->id,
			       get_name(aux->btf, aux->func_info[0].type_id, aux->name),
			       aux->attach_func_name, aux->dst_prog->aux->name);
	return 0;
}

/* bpftool's names of enum bpf_link_type; a type newer than this table prints as its number. */
static const char *link_type(__u32 t)
{
	switch (t) {
	case 1: return "raw_tracepoint";
	case 2: return "tracing";
	case 3: return "cgroup";
	case 4: return "iter";
	case 5: return "netns";
	case 6: return "xdp";
	case 7: return "perf_event";
	case 8: return "kprobe_multi";
	case 9: return "struct_ops";
	case 10: return "netfilter";
	case 11: return "tcx";
	case 12: return "uprobe_multi";
	case 13: return "netkit";
	case 14: return "sockmap";
	default: return 0;
	}
}

/* What a link is attached to: a raw tracepoint's name, else the program's attach function
 * (tracing, LSM, iterators' targets); empty when neither says. */
static const char *link_target(struct bpf_link *link, __u32 type)
{
	struct bpf_raw_tp_link *raw = (struct bpf_raw_tp_link *)link;

	if (type == 1 && bpf_core_field_exists(raw->btp))
		return BPF_CORE_READ(raw, btp, tp, name);
	return BPF_CORE_READ(link, prog, aux, attach_func_name);
}

SEC("iter/bpf_link")
int dump_bpf_link(struct bpf_iter__bpf_link *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	__u64 seq_num = ctx->meta->seq_num;
	struct bpf_link *link = ctx->link;
	struct name_val *obj;
	const char *type_name;
	__u32 id, type, prog_id;
	char num[12] = {};

	if (!link)
		return 0;

	if (seq_num == 0)
		BPF_SEQ_PRINTF(seq, "  id type             prog attached\n");

	id = link->id;
	type = BPF_CORE_READ(link, type);
	prog_id = BPF_CORE_READ(link, prog, aux, id);
	type_name = link_type(type);
	if (!type_name) {
		BPF_SNPRINTF(num, sizeof(num), "%u", type);
		type_name = num;
	}
	obj = object_of(NAME_KIND_LINK, id);
	if (obj)
		BPF_SEQ_PRINTF(seq, "%4u %-16s %4u %s object=%s\n", id, type_name, prog_id,
			       link_target(link, type), obj->name);
	else
		BPF_SEQ_PRINTF(seq, "%4u %-16s %4u %s\n", id, type_name, prog_id,
			       link_target(link, type));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
