/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* loadgen.h - shared types of the MQTT load generator (bench/). */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <mosquitto.h>

#include "hist.h"

#define LG_HDR_LEN 16          /* payload header: u64 ts_ns, u32 pub id, u32 seq */
#define LG_PUB_BITS 20         /* pub id = run tag << 20 | publisher index */
#define LG_PUB_MASK ((1u << LG_PUB_BITS) - 1)
#define LG_MAX_ERRKINDS 24
#define LG_RB_INLINE 48     /* read-buffer bytes kept inside the client */

enum lg_mode { MODE_CONN, MODE_PUB, MODE_SUB, MODE_CMD };

/* Every client has one role; a role is connected by one connect "entry". */
enum lg_role { ROLE_DEV, ROLE_PUB, ROLE_SUB, ROLE_BIZ, ROLE_COUNT };

enum lg_cstate {
	CS_IDLE,        /* no socket, not counted */
	CS_CONNECTING,  /* connect started, waiting for CONNACK */
	CS_SUBSCRIBING, /* CONNACK accepted, waiting for SUBACK */
	CS_READY,       /* connected (and subscribed): settled as success */
	CS_FAILED,      /* settled as a failure; socket may still be closing */
	CS_CLOSING      /* we asked for a disconnect */
};

/* ---- topic / credential templates ---------------------------------- */
typedef struct tmpl_seg {
	char kind;        /* 0 = literal, else the placeholder letter */
	const char *lit;
	size_t len;
} tmpl_seg_t;

typedef struct tmpl {
	const char *src;
	int nseg;
	tmpl_seg_t *seg;
	bool has_seq;     /* uses %n */
	bool per_client;  /* uses anything but literals and %n */
} tmpl_t;

struct lg_client;
int tmpl_compile(tmpl_t *t, const char *src, const char *allowed);
/* Expands for client c (may be NULL) and sequence seq; returns length or -1
 * if it does not fit. */
int tmpl_expand(const tmpl_t *t, const struct lg_client *c, uint32_t seq, char *out, size_t cap);

/* ---- per-(subscriber, publisher) sequence tracking ----------------- */
typedef struct lg_pair {
	uint32_t pub;       /* publisher id from the payload */
	uint32_t max_seq;
	uint64_t unique;
	uint64_t dup;
	uint64_t *bits;     /* seen-bitmap, grows by doubling */
	uint32_t nwords;
	bool used;
} lg_pair_t;

typedef struct lg_pairs {
	lg_pair_t *slot;    /* open addressing, power-of-two capacity */
	uint32_t cap;
	uint32_t n;
	lg_pair_t *last;
} lg_pairs_t;

/* ---- one MQTT client ------------------------------------------------- */
typedef struct lg_client {
	struct mosquitto *m;
	struct lg_worker *w;
	int role;
	int idx;               /* index inside its role */
	int fd;                /* socket registered in the worker's epoll, or -1 */
	uint8_t state;
	bool out_reg;          /* EPOLLOUT is in the epoll interest set */
	bool ever_ok;          /* accepted at least once (cmd target list) */
	char *id;
	char *user;            /* NULL = anonymous */
	char *pass;
	const char *p, *d;     /* halves of a P/D username (or the client id) */
	uint16_t plen, dlen;
	uint64_t t_start;      /* connect start, ns */
	int sub_mid;
	struct lg_connstats *cs; /* connect entry this attempt is counted in */

	/* publisher side */
	uint32_t sent;
	uint32_t inflight;
	uint64_t acked;
	uint64_t nacked;
	uint64_t next_due;
	int heap_pos;          /* -1 when not in the worker's heap */
	bool blk_write, blk_inflight, pub_done, send_done;
	bool blk_e2e;          /* --e2e-window full */
	uint32_t e2e_next;     /* highest sequence delivered to a subscriber + 1 */
	uint64_t blk_e2e_t;    /* when blk_e2e was set */
	bool in_pend;          /* on the worker's pending-read list */

	/* read buffer (see read() in engine.c) */
	uint32_t rb_pos, rb_len;
	bool rb_drained;
	unsigned char *rb_heap;
	unsigned char rb_inl[LG_RB_INLINE];
	char *topic;           /* cached expansion when the template has no %n */
	uint64_t *ack_ts;      /* ring indexed by mid & ack_mask */
	uint16_t *ack_mid;

	/* subscriber side */
	uint64_t received;
	lg_pairs_t pairs;
} lg_client_t;

/* ---- stats ----------------------------------------------------------- */
typedef struct lg_errkind {
	char name[32];
	uint64_t n;
} lg_errkind_t;

typedef struct lg_connstats {
	int role;
	int round;
	uint64_t attempted, accepted, ready, refused, errors, timeouts;
	uint64_t first_start, last_ack, last_ready;
	uint64_t refused_code[256];
	lg_errkind_t err[LG_MAX_ERRKINDS];
	hist_t lat;            /* TCP connect start -> CONNACK */
} lg_connstats_t;

typedef struct lg_worker {
	int id;
	pthread_t thr;
	int ep;
	int evfd;
	lg_client_t **rl[ROLE_COUNT];
	int rn[ROLE_COUNT];

	/* op tracking */
	int op_gen;
	int conn_role;
	int conn_next;         /* next position in rl[conn_role] to start */
	bool conn_active;
	uint64_t conn_t0;
	int entry;
	lg_connstats_t *cs;    /* current connect entry */
	lg_connstats_t *cst[64];
	bool publishing;
	bool disconnecting;
	uint64_t disc_t0;
	uint64_t next_sweep;

	/* publisher heap, ordered by next_due */
	lg_client_t **heap;
	int heap_n;

	/* clients with bytes left in their read buffer */
	lg_client_t **pend;
	int npend;

	/* buffers */
	char *payload;
	char topic[1024];

	/* results read by the main thread after join */
	uint64_t sent, acked, nacked;
	hist_t ack_lat;
	hist_t e2e;
	uint64_t received, foreign;
	uint64_t first_recv, last_recv;
	uint64_t first_send, last_send;

	uint64_t disc_unexpected;   /* READY clients that lost their connection */
	uint64_t pub_errors;        /* mosquitto_publish() failures */
	uint64_t e2e_stalls;        /* --e2e-window given up on (messages lost) */
	uint64_t misrouted;         /* cmd mode: command received by the wrong device */
	uint64_t dup;               /* duplicates seen by pair tracking */
	uint64_t untracked;         /* sequence numbers too large to track */

	/* progress counters, read by the main thread while running */
	_Atomic uint64_t a_started, a_settled, a_ready, a_open, a_sent, a_acked, a_recv, a_pubdone;
	_Atomic int a_opack;
	_Atomic uint64_t a_latmax;   /* max end-to-end latency since the last progress line */
} lg_worker_t;

/* ---- configuration ---------------------------------------------------- */
typedef struct lg_cred {
	char *user;
	char *pass;
} lg_cred_t;

typedef struct lg_config {
	const char *host;
	int port;
	int protocol;          /* MQTT_PROTOCOL_V311 or MQTT_PROTOCOL_V5 */
	int threads;
	int mode;
	int clients;
	double conn_rate;
	int conn_window;       /* max connects in flight, 0 = no limit */
	double duration;
	long long count;
	double pub_rate;
	int qos;
	int sub_qos;
	int payload_size;
	const char *topic;
	const char *sub_topic;
	const char *subscribe_self;
	int publishers;
	int subscribers;
	const char *creds_file;
	lg_cred_t *creds;
	int ncreds;
	const char *user, *pass;
	const char *sub_user, *sub_pass;
	const char *cmd_user, *cmd_pass;
	const char *client_id_prefix;
	int clean;
	int keepalive;
	double hold;
	int repeat;
	double round_pause;
	int target;            /* -1 = round robin */
	int inflight;
	int e2e_window;        /* pub mode: max sent - (highest seq delivered + 1), 0 = off */
	double max_fail_pct;
	double connect_timeout;
	double drain;
	int nodelay;
	int json;
	int quiet;
	int keep_sockpair;
	int read_buffer;
	int retain;
	int receive_max;       /* 0 = libmosquitto default */

	/* derived */
	tmpl_t t_topic, t_sub, t_self, t_user, t_pass, t_subuser, t_subpass;
	uint32_t ack_mask;
} lg_config_t;

/* ---- global state shared by the threads ------------------------------ */
enum lg_op { OP_NONE, OP_CONNECT, OP_PUBLISH, OP_DISCONNECT, OP_EXIT };

typedef struct lg_global {
	lg_config_t cfg;
	lg_worker_t *w;
	int nw;
	lg_client_t *clients;   /* all clients */
	int nclients;
	int nrole[ROLE_COUNT];

	/* current op, published by op_gen (release) */
	int op_kind;
	int op_role;
	int op_entry;
	int op_round;
	uint64_t op_t0;
	_Atomic int op_gen;

	/* publish phase */
	uint64_t run_t0;
	_Atomic uint64_t run_end;     /* ns; publishers stop sending at this time */
	lg_client_t **targets;        /* cmd mode: devices that accepted */
	int ntargets;
	_Atomic uint64_t *cmd_bits;   /* cmd mode: delivered-bitmap by seq */
	uint64_t cmd_nbits;
	_Atomic uint64_t cmd_delivered, cmd_dup;

	uint32_t run_tag;              /* 12 bits, 1..4095: marks this run's payloads */
	char run_id[8];                /* %r: "r" + 3 hex digits of run_tag */

	volatile sig_atomic_t interrupted;
} lg_global_t;

extern lg_global_t G;

/* engine.c */
uint64_t now_ns(void);
int engine_setup(void);             /* creates mosquitto objects, epolls */
void engine_start(void);            /* spawns worker threads */
void engine_op(int kind, int role, int entry, int round);
void engine_join(void);
void engine_cleanup(void);
const char *role_name(int role);

#endif
