/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Routing keys (cluster/cluster_key.c) against MQTT matching.
 *
 * Input: NUL-separated fields  filter | topic
 * Properties:
 *  - every key is at most CLUSTER_KEY_MAX bytes, NUL-terminated, and its
 *    words are never empty; a topic key's words never are `*` or `#`;
 *  - routing never loses a message: a valid filter matching a valid topic
 *    (libmosquitto's answer) means RabbitMQ's topic-exchange rule matches
 *    the filter's binding key against the topic's routing key, whenever
 *    both keys could be built;
 *  - client and node keys are `c.` / `n.` plus exactly one word.
 */
#include <mosquitto.h>

#include "cluster/cluster_key.h"
#include "fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RabbitMQ's topic exchange: `*` one word, `#` zero or more. */
static bool amqp_match(const char *b, const char *k)
{
	if(*b == '\0') return *k == '\0';
	if(b[0] == '#' && (b[1] == '.' || b[1] == '\0')){
		const char *rest = b[1] ? b + 2 : b + 1;
		if(*rest == '\0' && b[1] == '\0') return true;
		for(const char *p = k;; p++){
			if(amqp_match(rest, p)) return true;
			p = strchr(p, '.');
			if(p == NULL) return b[1] == '\0';
		}
	}
	{
		const char *bend = strchr(b, '.'), *kend = strchr(k, '.');
		size_t bn = bend ? (size_t)(bend - b) : strlen(b);
		size_t kn = kend ? (size_t)(kend - k) : strlen(k);

		if(*k == '\0') return false;
		if(!(bn == 1 && b[0] == '*') && (bn != kn || memcmp(b, k, bn))) return false;
		if(bend == NULL) return kend == NULL;
		if(kend == NULL){
			/* key exhausted: only a trailing `.#` still matches */
			return !strcmp(bend, ".#");
		}
		return amqp_match(bend + 1, kend + 1);
	}
}

static void check_words(const char *key, bool topic_key)
{
	const char *w = key;

	FZ_CHECK(strlen(key) <= CLUSTER_KEY_MAX, "key too long: %zu", strlen(key));
	for(;;){
		const char *end = strchr(w, '.');
		size_t n = end ? (size_t)(end - w) : strlen(w);

		FZ_CHECK(n > 0, "empty word in \"%s\"", key);
		if(topic_key) FZ_CHECK(!(n == 1 && (w[0] == '*' || w[0] == '#')), "wildcard word in topic key \"%s\"", key);
		if(end == NULL) break;
		w = end + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	char *filter = fz_str(&f), *topic = fz_str(&f);
	char fk[CLUSTER_KEY_MAX + 1], tk[CLUSTER_KEY_MAX + 1], ck[CLUSTER_KEY_MAX + 1];
	int fl = cluster_key_filter(filter, fk), tl = cluster_key_topic(topic, tk);

	if(tl >= 0){
		FZ_CHECK((size_t)tl == strlen(tk), "topic key length");
		check_words(tk, true);
	}
	if(fl >= 0){
		FZ_CHECK((size_t)fl == strlen(fk), "filter key length");
		check_words(fk, false);
	}
	if(fl >= 0 && tl >= 0 && mosquitto_sub_topic_check(filter) == MOSQ_ERR_SUCCESS
			&& mosquitto_pub_topic_check(topic) == MOSQ_ERR_SUCCESS){
		bool m = false;

		mosquitto_topic_matches_sub(filter, topic, &m);
		if(m) FZ_CHECK(amqp_match(fk, tk), "filter %s matches topic %s but key %s misses %s", filter, topic, fk, tk);
	}
	if(cluster_key_client(topic, ck) >= 0){
		FZ_CHECK(ck[0] == 'c' && ck[1] == '.' && strchr(ck + 2, '.') == NULL && ck[2] != '\0', "client key %s", ck);
	}
	free(filter);
	free(topic);
	return 0;
}
