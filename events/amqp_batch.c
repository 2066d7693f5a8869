/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Hand-encoded basic.publish batches (see amqp_batch.h). The layout is
 * AMQP 0-9-1 §4.2.3 (frames), §4.2.6 (content header) and the basic
 * class's property list; test/unit/test_amqp_batch.c decodes the output
 * with rabbitmq-c's own decoders.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "events/amqp_batch.h"
#include "core/clock.h"
#include "core/errstr.h"

#define FRAME_HDR 7               /* type, channel, size */
#define FRAME_END_LEN 1
#define COPY_MAX 2048             /* bodies up to this size are copied into the arena */
#define DEFAULT_FRAME_MAX 131072  /* what amqp_conn.c asks for */

/* The properties every event carries (the order of the list is the order
 * of these flags, highest first). */
#define PROP_FLAGS (AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG \
		| AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_APP_ID_FLAG)

int events_amqp_batch_init(struct events_amqp_batch *b, uint16_t channel)
{
	memset(b, 0, sizeof(*b));
	b->arena = malloc(EVENTS_AMQP_BATCH_ARENA);
	if(b->arena == NULL) return -1;
	b->channel = channel;
	b->frame_max = DEFAULT_FRAME_MAX;
	return 0;
}

void events_amqp_batch_cleanup(struct events_amqp_batch *b)
{
	free(b->arena);
	b->arena = NULL;
}

static void clear(struct events_amqp_batch *b)
{
	b->used = 0;
	b->n_iov = 0;
	b->bytes = 0;
	b->count = 0;
}

void events_amqp_batch_reset(struct events_amqp_batch *b, uint32_t frame_max)
{
	clear(b);
	/* 0 would mean "no limit"; anything below the spec's minimum is not
	 * a frame_max rabbitmq-c would have agreed to. */
	b->frame_max = frame_max >= AMQP_FRAME_MIN_SIZE ? frame_max : DEFAULT_FRAME_MAX;
}

/* ------------------------------------------------------------------ */
/* encoding                                                            */

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	p = put32(p, (uint32_t)(v >> 32));
	return put32(p, (uint32_t)v);
}

static uint8_t *put_shortstr(uint8_t *p, const char *s, size_t len)
{
	*p++ = (uint8_t)len;
	memcpy(p, s, len);
	return p + len;
}

static uint8_t *frame_start(const struct events_amqp_batch *b, uint8_t *p, uint8_t type, uint32_t size)
{
	*p++ = type;
	p = put16(p, b->channel);
	return put32(p, size);
}

/* Arena bytes [from, b->arena + b->used) become part of the output:
 * they extend the last iovec when it ends where they start. */
static void queue_arena(struct events_amqp_batch *b, uint8_t *from)
{
	uint8_t *to = b->arena + b->used;
	struct iovec *last = b->n_iov ? &b->iov[b->n_iov - 1] : NULL;

	if(to == from) return;
	if(last && (uint8_t *)last->iov_base + last->iov_len == from){
		last->iov_len += (size_t)(to - from);
	}else{
		b->iov[b->n_iov].iov_base = from;
		b->iov[b->n_iov].iov_len = (size_t)(to - from);
		b->n_iov++;
	}
	b->bytes += (size_t)(to - from);
}

int events_amqp_batch_kind(struct events_amqp_batch *b, unsigned idx, const struct events_amqp_kind_def *d)
{
	size_t ex = strlen(d->exchange), rk = strlen(d->routing_key), ct = strlen(d->content_type);
	size_t ty = strlen(d->type), app = strlen(d->app_id);
	struct events_amqp_kind *k;
	size_t method_len, header_len;
	uint8_t *p;

	if(idx >= EVENTS_AMQP_BATCH_KINDS || ex > 255 || rk > 255 || ct > 255 || ty > 255 || app > 255) return -1;
	k = &b->kinds[idx];
	method_len = 4 + 2 + 1 + ex + 1 + rk + 1;
	header_len = 2 + 2 + 8 + 2 + 1 + ct + 1 + 1 + d->message_id_len + 8 + 1 + ty + 1 + app;
	p = k->frames;
	/* basic.publish: ticket 0, exchange, routing key, bits: mandatory */
	p = frame_start(b, p, AMQP_FRAME_METHOD, (uint32_t)method_len);
	p = put32(p, AMQP_BASIC_PUBLISH_METHOD);
	p = put16(p, 0);
	p = put_shortstr(p, d->exchange, ex);
	p = put_shortstr(p, d->routing_key, rk);
	*p++ = 1;
	*p++ = AMQP_FRAME_END;
	/* content header: class, weight 0, body size, flags, properties */
	p = frame_start(b, p, AMQP_FRAME_HEADER, (uint32_t)header_len);
	p = put16(p, AMQP_BASIC_CLASS);
	p = put16(p, 0);
	k->off_body_size = (uint16_t)(p - k->frames);
	p = put64(p, 0);
	p = put16(p, PROP_FLAGS);
	p = put_shortstr(p, d->content_type, ct);
	*p++ = AMQP_DELIVERY_PERSISTENT;
	*p++ = d->message_id_len;
	k->off_message_id = (uint16_t)(p - k->frames);
	memset(p, '0', d->message_id_len);
	p += d->message_id_len;
	k->off_timestamp = (uint16_t)(p - k->frames);
	p = put64(p, 0);
	p = put_shortstr(p, d->type, ty);
	p = put_shortstr(p, d->app_id, app);
	*p++ = AMQP_FRAME_END;
	k->len = (uint16_t)(p - k->frames);
	k->message_id_len = d->message_id_len;
	k->set = true;
	return 0;
}

int events_amqp_batch_add(struct events_amqp_batch *b, unsigned idx, const char *message_id, uint64_t timestamp,
		const void *body, uint32_t body_len)
{
	const struct events_amqp_kind *k = idx < EVENTS_AMQP_BATCH_KINDS ? &b->kinds[idx] : NULL;
	size_t usable = b->frame_max - FRAME_HDR - FRAME_END_LEN;
	size_t chunks = ((size_t)body_len + usable - 1) / usable;
	bool copy = body_len <= COPY_MAX;
	size_t need;
	/* Copied: all arena, at most one new iovec. Referenced: per chunk the
	 * arena before it and the body piece, then the tail. */
	size_t iov_need = copy ? 1 : 2 * chunks + 1;
	const uint8_t *src = body;
	uint8_t *p, *from;

	if(k == NULL || !k->set) return -1;
	need = k->len + chunks * (FRAME_HDR + FRAME_END_LEN) + (copy ? body_len : 0);
	if(need > EVENTS_AMQP_BATCH_ARENA || iov_need > EVENTS_AMQP_BATCH_IOV) return -1;
	if(b->used + need > EVENTS_AMQP_BATCH_ARENA || (size_t)b->n_iov + iov_need > EVENTS_AMQP_BATCH_IOV) return 1;

	/* The kind's frames, then what differs per message. */
	from = p = b->arena + b->used;
	memcpy(p, k->frames, k->len);
	put64(p + k->off_body_size, body_len);
	memcpy(p + k->off_message_id, message_id, k->message_id_len);
	put64(p + k->off_timestamp, timestamp);
	p += k->len;
	for(size_t off = 0; off < body_len; off += usable){
		size_t n = body_len - off < usable ? body_len - off : usable;

		p = frame_start(b, p, AMQP_FRAME_BODY, (uint32_t)n);
		if(copy){
			memcpy(p, src + off, n);
			p += n;
		}else{
			b->used = (size_t)(p - b->arena);
			queue_arena(b, from);
			b->iov[b->n_iov].iov_base = (void *)(src + off);
			b->iov[b->n_iov].iov_len = n;
			b->n_iov++;
			b->bytes += n;
			from = p;
		}
		*p++ = AMQP_FRAME_END;
	}
	b->used = (size_t)(p - b->arena);
	queue_arena(b, from);
	b->count++;
	return 0;
}

size_t events_amqp_batch_copy(const struct events_amqp_batch *b, uint8_t *out, size_t cap)
{
	size_t at = 0;

	for(int i = 0; i < b->n_iov; i++){
		size_t n = b->iov[i].iov_len;
		if(at < cap) memcpy(out + at, b->iov[i].iov_base, cap - at < n ? cap - at : n);
		at += n;
	}
	return at;
}

/* ------------------------------------------------------------------ */
/* sending                                                             */

int events_amqp_batch_send(struct events_amqp_batch *b, int fd, int64_t stall_ms, bool more,
		char *err, size_t errlen)
{
	int64_t deadline_ms = ih_mono_ms() + stall_ms;
	struct iovec *iov = b->iov;
	int n = b->n_iov;
	size_t left = b->bytes;
	int rc = 0;

	while(left){
		struct msghdr mh;
		ssize_t w;

		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n;
		w = sendmsg(fd, &mh, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		if(w > 0){
			size_t done = (size_t)w;
			left -= done;
			deadline_ms = ih_mono_ms() + stall_ms;   /* progress: the stall clock restarts */
			/* Step past what went out, trimming a partly sent iovec. */
			while(n && done >= iov->iov_len){
				done -= iov->iov_len;
				iov++;
				n--;
			}
			if(n && done){
				iov->iov_base = (uint8_t *)iov->iov_base + done;
				iov->iov_len -= done;
			}
			continue;
		}
		if(w < 0 && errno == EINTR) continue;
		if(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)){
			/* The socket buffer is full (RabbitMQ is slow, or a resource
			 * alarm stopped its reading): wait for room, but not forever. */
			struct pollfd pfd = {fd, POLLOUT, 0};
			int64_t wait = deadline_ms - ih_mono_ms();

			if(wait <= 0){
				snprintf(err, errlen, "publish: timed out");
				rc = -1;
				break;
			}
			if(poll(&pfd, 1, wait > 1000 ? 1000 : (int)wait) < 0 && errno != EINTR){
				snprintf(err, errlen, "publish: poll: %s", ih_strerror(errno));
				rc = -1;
				break;
			}
			continue;
		}
		snprintf(err, errlen, "publish: %s", w < 0 ? ih_strerror(errno) : "connection closed");
		rc = -1;
		break;
	}
	clear(b);
	return rc;
}
