/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The datagrams the registry worker's process sends the broker
 * (registry/helper_proto.h), as the broker side reads them
 * (registry/helper.c): results with their BSON, health, log lines; and
 * the username lists both sides parse.
 *
 * Input: datagrams, each a 2-byte little-endian length then its bytes.
 * Properties:
 *  - nothing the child could send crashes or leaks in the broker;
 *  - every result taken back has a NUL-terminated username and, if any,
 *    a document libbson accepts;
 *  - helper_names_parse returns at most max names, each NUL-terminated
 *    inside the payload.
 */
#include <mosquitto.h>

#include "registry/helper.h"
#include "registry/helper_proto.h"
#include "fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_names(const uint8_t *p, size_t len)
{
	const char *names[8];
	size_t n = helper_names_parse((const char *)p, len, names, 8);

	FZ_CHECK(n <= 8, "%zu names", n);
	for(size_t i = 0; i < n; i++){
		const char *s = names[i];
		FZ_CHECK(s >= (const char *)p && s < (const char *)p + len, "name %zu outside the payload", i);
		FZ_CHECK(memchr(s, '\0', (size_t)((const char *)p + len - s)) != NULL, "name %zu not terminated", i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct registry_helper *h = registry_helper_detached();
	struct registry_worker_result *list, *next;
	struct registry_worker_health health;

	if(h == NULL) return 0;
	while(size >= 2){
		size_t len = (size_t)data[0] | (size_t)data[1] << 8;
		data += 2;
		size -= 2;
		if(len > size) len = size;
		check_names(data, len);
		registry_helper_feed(h, data, len);
		data += len;
		size -= len;
	}
	while((list = registry_helper_take(h, 16)) != NULL){
		for(; list; list = next){
			next = list->next;
			FZ_CHECK(list->username != NULL, "a result without a username");
			FZ_CHECK(list->doc == NULL || list->doc->len >= 5, "a document of %u bytes", list->doc->len);
			registry_worker_result_free(list);
		}
	}
	registry_helper_health(h, &health);
	FZ_CHECK(memchr(health.err, '\0', sizeof(health.err)) != NULL, "health error not terminated");
	registry_helper_stop(h);
	return 0;
}
