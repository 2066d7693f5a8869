/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Delivery index for the plugin's server-side auto-subscriptions.
 *
 * Mosquitto 2.0.11 has no subscribe API for plugins, so the plugin delivers
 * matching messages itself (mosquitto_broker_publish_copy to one client id,
 * from MOSQ_EVT_MESSAGE). This index answers "which clients have an
 * auto-subscription matching this topic, and at what QoS" without scanning
 * every client:
 *
 *  - Entries are keyed by CLIENT ID, not by connection: a persistent session
 *    keeps its auto-subscriptions while offline, as a real subscription
 *    would (the broker queues QoS>=1 for it). The glue unbinds clean
 *    sessions at disconnect.
 *  - Each filter is indexed by its literal prefix: the whole levels before
 *    the first wildcard (`cmd/p1/d1/+/+/+/#` -> `cmd/p1/d1`, 3 levels). A
 *    match looks the topic's prefix up once per distinct prefix level count
 *    in use (3 for the IotHub set, 4 for tag subscriptions) and fully
 *    matches only what it finds there, so its cost depends on the number
 *    of filters sharing the topic's prefixes, not on the number of
 *    clients. Two paths share that walk:
 *  - Keyed (most filters): a prefix of two levels or more is HEAD/KEY, its
 *    first level and the rest (`cmd` and the device identity `p1/d1`).
 *    Per client, the filters with the same KEY as its first such filter
 *    (all three of the default set) are stored as that KEY once, in the
 *    client's record, plus a pointer to a shared, reference-counted set of
 *    (HEAD, rest of the filter, QoS) shapes (autosub_shape.h). The record
 *    is one allocation holding the id, the key and both hash nodes; a
 *    match takes the topic's levels after its head, looks them up once in
 *    the key table, and compares the heads and the rest (most rests are
 *    `+` levels and `#`, which only count levels). About 100 bytes per
 *    device instead of 470 (autosub_index_memory, 10,000 devices).
 *  - Generic (API-made filters, tag subscriptions, prefixes of one level
 *    or none, another key than the client's first): each filter copied
 *    and linked under its whole literal prefix in a second hash table, in
 *    a per-client extra block (autosub_index_intern.h) that also holds the
 *    tracked subscriptions.
 *  - Each client appears at most once in a result, with the highest QoS of
 *    its matching filters; the glue delivers at min(message QoS, that QoS).
 *  - At-most-once with the client's own subscriptions: the glue reports the
 *    client's SUBSCRIBE/UNSUBSCRIBE (allowed ones, from the ACL check). The
 *    client's subscriptions are tracked (at most AUTOSUB_TRACK_MAX per
 *    client), and a client whose tracked subscription matches the topic is
 *    left out of the result because the broker already delivers through
 *    that subscription. A subscription that overlaps none of the client's
 *    filters is tracked too, because a later bind may add one that does (a
 *    device subscribed to `tags/p1/+/cmd/#` that gets a tag); when the list
 *    is full, such a one gives its place to one that overlaps a bound
 *    filter, and beyond that the client may get a duplicate rather than
 *    lose a message. Shared subscriptions ($share/...) are never tracked:
 *    the broker gives the message to only one member of the group. Tracked
 *    subscriptions survive bind (the broker keeps a persistent session's
 *    subscriptions) and are dropped by unbind and
 *    autosub_index_clear_subscriptions. A client is known to the index only
 *    while it has at least one filter bound: subscriptions made while it
 *    had none are not tracked (possible duplicate after a later bind).
 *
 * Not thread-safe: broker thread only. Match allocates only when a result
 * is larger than any before (the result buffer is reused).
 */
#ifndef IH_AUTOSUB_INDEX_H
#define IH_AUTOSUB_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autosub/autosub_template.h"

/* Most subscriptions tracked per client for at-most-once delivery. */
#define AUTOSUB_TRACK_MAX 16

struct autosub_index;

struct autosub_match {
	const char *client_id;   /* owned by the index: valid until that client is rebound or unbound (a bind makes a new record) */
	void *owner;             /* as given to bind */
	int qos;                 /* highest QoS of the client's matching filters */
};

struct autosub_index_stats {
	size_t clients;
	size_t filters;          /* bound filters, all clients */
	size_t prefixes;         /* distinct generic prefixes and keys */
	size_t depths;           /* distinct prefix level counts: lookups per match */
	size_t tracked;          /* tracked subscriptions, all clients */
	size_t bytes;            /* = autosub_index_memory() */
	uint64_t matches;        /* autosub_index_match calls */
	uint64_t candidates;     /* filters fully compared, all matches */
	size_t last_candidates;  /* filters fully compared by the last match */
};

/* MOSQ_ERR_SUCCESS or MOSQ_ERR_NOMEM. client_chosen_prefixes: some
 * template puts the client id (%c) into the filters' prefixes
 * (autosub_templates_use_client_id), so clients choose the prefix table's
 * keys and it must hash them with SipHash. */
int autosub_index_new(struct autosub_index **out, bool client_chosen_prefixes);
void autosub_index_free(struct autosub_index *idx);    /* NULL is fine */

/*
 * Replace client_id's auto-subscriptions with `filters` (copied; invalid
 * filters are skipped, duplicates merged at the highest QoS) and set its
 * owner. n == 0 is autosub_index_unbind. On MOSQ_ERR_NOMEM the client's
 * previous set is unchanged.
 */
int autosub_index_bind(struct autosub_index *idx, const char *client_id,
		const struct autosub_filter *filters, size_t n, void *owner);

/* Forget client_id entirely (its filters and tracked subscriptions). */
void autosub_index_unbind(struct autosub_index *idx, const char *client_id);

/*
 * Forget client_id only if `owner` still owns it: a connection that is
 * going away must not take down the set its successor already rebound.
 */
void autosub_index_release(struct autosub_index *idx, const char *client_id, const void *owner);

/*
 * The clients to deliver `topic` to. *out points at an array owned by the
 * index, valid until the next call that changes the index or matches.
 * Do not bind/unbind while walking it.
 */
size_t autosub_index_match(struct autosub_index *idx, const char *topic, const struct autosub_match **out);

/* The client's own (allowed) SUBSCRIBE; true when it is now tracked. */
bool autosub_index_note_subscribe(struct autosub_index *idx, const char *client_id, const char *filter);
void autosub_index_note_unsubscribe(struct autosub_index *idx, const char *client_id, const char *filter);
/* A clean-session connect: the broker dropped the client's subscriptions. */
void autosub_index_clear_subscriptions(struct autosub_index *idx, const char *client_id);
/*
 * A connect that asks to resume a session, which the broker may or may not
 * still hold (MQTT 5 without session expiry, persistent_client_expiration):
 * the tracked subscriptions are ignored by match (a possible duplicate
 * rather than a loss) until confirm says whether the session, and with it
 * the subscriptions, was kept; if not, they are forgotten. hold returns
 * true when there was anything to hold.
 */
bool autosub_index_hold_subscriptions(struct autosub_index *idx, const char *client_id);
void autosub_index_confirm_subscriptions(struct autosub_index *idx, const char *client_id, bool kept);

/* Bytes held by the index (every allocation it made, without malloc overhead). */
size_t autosub_index_memory(const struct autosub_index *idx);
size_t autosub_index_clients(const struct autosub_index *idx);
void autosub_index_stats(const struct autosub_index *idx, struct autosub_index_stats *out);

#endif
