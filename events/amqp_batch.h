/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * A batch of basic.publish messages encoded by hand into AMQP 0-9-1 frames
 * (method, content header, body) and written to the socket with one
 * sendmsg per batch.
 *
 * Why: rabbitmq-c's amqp_basic_publish makes five send() calls per event
 * (method, header, and the body as frame header, bytes, frame end), which
 * made the forwarder thread's syscalls (and, on loopback, the receiver's
 * TCP work they carry) most of event forwarding's CPU per message beyond
 * the broker thread (bench uplink_q0). Frames are simple (type u8,
 * channel u16, size u32, payload, 0xCE); what rabbitmq-c gives here is
 * the frame_max of the connection.
 *
 * Plain TCP only: rabbitmq-c does not expose its TLS socket's send, and
 * bytes written past OpenSSL would corrupt the TLS stream, so amqps://
 * keeps amqp_basic_publish (events/forwarder.c).
 *
 * Small bodies are copied into the batch's arena; larger ones are sent
 * from where they lie (the spool's mapping, a memory-queue item), which
 * must stay valid until events_amqp_batch_send returns. Forwarder thread
 * only; allocates with libc.
 */
#ifndef IH_EVENTS_AMQP_BATCH_H
#define IH_EVENTS_AMQP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define EVENTS_AMQP_BATCH_ARENA 65536  /* frame bytes and copied bodies per sendmsg */
#define EVENTS_AMQP_BATCH_IOV 256      /* iovecs per sendmsg (below IOV_MAX) */

#define EVENTS_AMQP_BATCH_KINDS 8     /* distinct message kinds (routing key, properties) */
#define EVENTS_AMQP_KIND_MAX 1600     /* method + header frames with 255-byte strings fit */

/* What all messages of a kind share: everything but the message id, the
 * timestamp and the body. */
struct events_amqp_kind_def {
	const char *exchange;
	const char *routing_key;
	const char *content_type;
	const char *type;
	const char *app_id;
	uint8_t message_id_len;     /* every message id of the kind has this length */
};

/* A kind, encoded once: the method frame and the content header frame,
 * with the offsets of the parts each message fills in. */
struct events_amqp_kind {
	uint8_t frames[EVENTS_AMQP_KIND_MAX];
	uint16_t len;
	uint16_t off_body_size, off_message_id, off_timestamp;
	uint8_t message_id_len;
	bool set;
};

struct events_amqp_batch {
	uint8_t *arena;             /* owned, EVENTS_AMQP_BATCH_ARENA bytes */
	size_t used;
	struct iovec iov[EVENTS_AMQP_BATCH_IOV];
	int n_iov;
	size_t bytes;               /* total bytes queued in iov */
	uint32_t count;             /* messages queued */
	uint16_t channel;
	uint32_t frame_max;
	struct events_amqp_kind kinds[EVENTS_AMQP_BATCH_KINDS];
};

int events_amqp_batch_init(struct events_amqp_batch *b, uint16_t channel);
void events_amqp_batch_cleanup(struct events_amqp_batch *b);
/* Encode kind `idx` (< EVENTS_AMQP_BATCH_KINDS): basic.publish with
 * mandatory set, immediate not; delivery mode persistent and the given
 * properties. 0, or -1 when a string is over 255 bytes. */
int events_amqp_batch_kind(struct events_amqp_batch *b, unsigned idx, const struct events_amqp_kind_def *d);
/* A new connection: its negotiated frame_max; empties the batch. */
void events_amqp_batch_reset(struct events_amqp_batch *b, uint32_t frame_max);

/*
 * Append one message of kind `idx` (its message id is message_id_len
 * bytes; timestamp in seconds) with its body frames. 0 when queued; 1 when
 * the batch has no room left for it (send it, then add again); -1 when it
 * can never fit a batch (a body of many frames, an unset kind): send it
 * some other way.
 */
int events_amqp_batch_add(struct events_amqp_batch *b, unsigned idx, const char *message_id, uint64_t timestamp,
		const void *body, uint32_t body_len);

/*
 * Write everything queued to fd (non-blocking, as rabbitmq-c leaves it),
 * waiting for room in the socket buffer, but giving up when stall_ms pass
 * with no byte going out. A stall timeout, not a deadline for the whole
 * batch: a batch can hold megabytes (bodies up to frame_max, referenced
 * from the spool), and a slow link that keeps moving must not time out
 * and then replay the same batch forever (rabbitmq-c's path timed each
 * publish on its own). `more`: another batch follows at once (MSG_MORE). Empties the
 * batch. 0, or -1 with a reason in err: then an unknown part of it went
 * out, the AMQP stream is broken and the connection must be dropped.
 */
int events_amqp_batch_send(struct events_amqp_batch *b, int fd, int64_t stall_ms, bool more,
		char *err, size_t errlen);

/* The bytes queued, as one contiguous copy (tests): out gets up to cap
 * bytes; returns the total. Does not empty the batch. */
size_t events_amqp_batch_copy(const struct events_amqp_batch *b, uint8_t *out, size_t cap);

#endif
