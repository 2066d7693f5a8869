/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The messages between the broker and the registry worker's process
 * (helper.h): one SOCK_SEQPACKET datagram each, a header and a payload.
 * Both ends are the same build of the same .so, so structs travel as they
 * are (no versioning, no byte order).
 */
#ifndef IH_REGISTRY_HELPER_PROTO_H
#define IH_REGISTRY_HELPER_PROTO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "registry/worker.h"

/* Largest datagram either way: the socket buffers are raised to twice it.
 * Lists of usernames go in chunks of NAMES_CHUNK bytes. */
#define HELPER_MSG_MAX (192 * 1024)
#define HELPER_NAMES_CHUNK (32 * 1024)
/* The child keeps its socket as this descriptor and closes all above. */
#define HELPER_CHILD_FD 3

enum helper_msg {
	/* broker -> child */
	HM_REFETCH = 1,      /* flags F_FORCED; value max_len; count names */
	HM_PRELOAD_NAMES,    /* count names, appended to the preload list */
	HM_PRELOAD_GO,       /* value scan_max; count max_len */
	HM_TAKE_PRELOAD,     /* count max; answered by HM_NAMES */
	HM_PROBE,            /* answered by HM_TICKET */
	HM_STOP,
	/* child -> broker */
	HM_RESULT = 32,      /* flags; value fetched_ms; count username length; username, NUL, BSON bytes */
	HM_HEALTH,           /* struct registry_worker_health */
	HM_LOG,              /* count level; the line */
	HM_NAMES,            /* count names */
	HM_TICKET,           /* value */
};

#define HF_FORCED 1u
#define HF_PRELOAD 2u
#define HF_DOC 4u
#define HF_LOST 8u    /* the record did not fit in a datagram: logged by the child, nothing to apply */

struct helper_hdr {
	uint8_t type;
	uint8_t flags;
	uint16_t pad;
	uint32_t count;
	int64_t value;
};

/* MAP_SHARED between the two: bumped by the child after it has sent, so
 * the broker reads its socket only when there is something to read. */
struct helper_shm {
	atomic_uint_least64_t posted;
};

/* Either end (MSG_NOSIGNAL): header and up to two payload pieces in one
 * datagram. 0, or -1 with errno (EAGAIN only with dontwait). */
int helper_send(int fd, const struct helper_hdr *h, const void *a, size_t alen, const void *b, size_t blen,
		bool dontwait);

/* Usernames in a payload: NUL-terminated, back to back. Fills names[] (up
 * to max) with pointers into the payload; returns how many. */
size_t helper_names_parse(const char *p, size_t len, const char **names, size_t max);

/* The child's main: never returns. */
void helper_child_main(int fd, struct helper_shm *shm, const struct ih_config *cfg,
		const struct auth_source_factory *factory, int64_t (*now_ms)(void), pid_t parent) __attribute__((noreturn));

#endif
