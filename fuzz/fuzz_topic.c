/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Topic matching, filter coverage and overlap (acl/topic.c), against
 * libmosquitto's own matcher as the reference.
 *
 * Input: NUL-separated fields  filter A | filter B | topic
 * Properties:
 *  - acl_topic_matches agrees with mosquitto_topic_matches_sub for every
 *    valid filter and topic (the broker's answer is the truth here);
 *  - the _from variants, resumed after a shared literal prefix, agree with
 *    the plain predicates;
 *  - coverage is sound: covers(A, B) and B matches T imply A matches T;
 *  - overlap is sound: A and B both matching T implies overlap(A, B);
 *  - validity agrees with mosquitto_sub_topic_check / _pub_topic_check;
 *  - acl_share_strip returns NULL, its argument, or a suffix of it.
 */
#include <mosquitto.h>

#include "acl/topic.h"
#include "fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bytes shared by a and b before the first wildcard or difference, cut
 * back to just after a '/' so the resumed walk starts on a level. */
static size_t literal_prefix(const char *a, const char *b)
{
	size_t i = 0, cut = 0;

	while(a[i] && a[i] == b[i] && a[i] != '+' && a[i] != '#'){
		if(a[i] == '/') cut = i + 1;
		i++;
	}
	return cut;
}

static bool ref_matches(const char *filter, const char *topic)
{
	bool m = false;

	FZ_CHECK(mosquitto_topic_matches_sub(filter, topic, &m) == MOSQ_ERR_SUCCESS, "libmosquitto refused %s / %s", filter, topic);
	return m;
}

static void check_filter(const char *a)
{
	bool valid = acl_filter_valid(a);
	size_t len = strlen(a);

	if(len > 0 && len <= ACL_TOPIC_MAX){
		FZ_CHECK(valid == (mosquitto_sub_topic_check(a) == MOSQ_ERR_SUCCESS), "filter validity of \"%s\": ours %d", a, valid);
		FZ_CHECK(acl_topic_valid(a) == (mosquitto_pub_topic_check(a) == MOSQ_ERR_SUCCESS), "topic validity of \"%s\"", a);
	}
	{
		const char *s = acl_share_strip(a);
		FZ_CHECK(s == NULL || (s >= a && s <= a + len), "share strip left the string");
		if(s && s != a){
			FZ_CHECK(!strncmp(a, "$share/", 7) && s > a + 7 && s[0] != '\0', "share strip of \"%s\"", a);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	char *a = fz_str(&f);
	char *b = fz_str(&f);
	char *t = fz_str(&f);
	bool va, vb, vt;

	check_filter(a);
	check_filter(b);
	check_filter(t);
	va = acl_filter_valid(a);
	vb = acl_filter_valid(b);
	vt = acl_topic_valid(t);

	if(va && vt){
		bool m = acl_topic_matches(a, t);
		size_t off = literal_prefix(a, t);
		FZ_CHECK(m == ref_matches(a, t), "matches(\"%s\", \"%s\") = %d, libmosquitto says %d", a, t, m, !m);
		FZ_CHECK(acl_topic_matches_from(a, t, off) == m, "matches_from(\"%s\", \"%s\", %zu) differs", a, t, off);
	}
	if(va && vb){
		bool c = acl_filter_covers(a, b);
		size_t off = literal_prefix(a, b);
		FZ_CHECK(acl_filter_covers_from(a, b, off) == c, "covers_from(\"%s\", \"%s\", %zu) differs", a, b, off);
		FZ_CHECK(acl_filters_overlap(a, b) == acl_filters_overlap(b, a), "overlap not symmetric: \"%s\" \"%s\"", a, b);
		if(!strcmp(a, b)) FZ_CHECK(c, "\"%s\" does not cover itself", a);
		if(vt){
			bool ma = acl_topic_matches(a, t), mb = acl_topic_matches(b, t);
			if(c && mb) FZ_CHECK(ma, "covers(\"%s\", \"%s\") but only the second matches \"%s\"", a, b, t);
			if(ma && mb) FZ_CHECK(acl_filters_overlap(a, b), "\"%s\" and \"%s\" both match \"%s\" but do not overlap", a, b, t);
		}
		/* Without wildcards, coverage is matching. */
		if(acl_topic_valid(b)) FZ_CHECK(c == acl_topic_matches(a, b), "covers/matches differ for \"%s\" \"%s\"", a, b);
	}
	free(a);
	free(b);
	free(t);
	return 0;
}
