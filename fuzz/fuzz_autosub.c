/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The auto-subscription delivery index (autosub/autosub_index.c), driven by
 * a sequence of operations and compared with a brute-force model.
 *
 * Input: a sequence of  op byte | NUL-separated strings the op needs.
 *   op % 7: 0 bind(client, up to 4 filters with QoS), 1 unbind, 2 release
 *   (owner right or wrong), 3 note_subscribe, 4 note_unsubscribe,
 *   5 clear_subscriptions, or (bits 5-6) hold_subscriptions or
 *   confirm_subscriptions (bit 7: kept), 6 match(topic)
 * Properties:
 *  - match returns exactly the clients the model finds: some bound filter
 *    matches the topic (acl_topic_matches) and no tracked subscription of
 *    theirs does, each once, with the highest matching QoS and its owner;
 *  - held subscriptions exclude nothing until confirmed, and hold says
 *    whether there was anything to hold;
 *  - note_subscribe tracks exactly what the header promises: a new
 *    subscription while there is room, overlapping a bound filter or not;
 *    when full, one that overlaps takes the place of one that does not;
 *  - memory accounting returns to the empty index's figure, and nothing
 *    leaks (LeakSanitizer).
 */
#include <stdint.h>

#include "acl/topic.h"
#include "fuzz/fuzz_common.h"
#include "autosub/autosub_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCLIENTS 4
#define NFILT 4
#define MAXOPS 64

static const char *const ids[NCLIENTS] = {"c0", "c1", "dev/x", ""};

struct model_client {
	bool present;
	uintptr_t owner;
	size_t nf;
	char *filter[NFILT];
	int qos[NFILT];
	size_t nt;
	char *tracked[AUTOSUB_TRACK_MAX];
	bool held;
};

static void drop_filters(struct model_client *m)
{
	for(size_t i = 0; i < m->nf; i++) free(m->filter[i]);
	m->nf = 0;
}

static void drop_tracked(struct model_client *m)
{
	for(size_t i = 0; i < m->nt; i++) free(m->tracked[i]);
	m->nt = 0;
	m->held = false;
}

static bool model_overlaps(const struct model_client *m, const char *sub)
{
	for(size_t i = 0; i < m->nf; i++){
		if(acl_filters_overlap(m->filter[i], sub)) return true;
	}
	return false;
}

static void model_remove(struct model_client *m)
{
	drop_filters(m);
	drop_tracked(m);
	m->present = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	struct model_client model[NCLIENTS];
	struct autosub_index *idx = NULL;
	size_t empty_bytes;
	uintptr_t next_owner = 1;

	memset(model, 0, sizeof(model));
	if(autosub_index_new(&idx, true) != 0) abort();
	empty_bytes = autosub_index_memory(idx);

	for(int ops = 0; ops < MAXOPS && !fz_empty(&f); ops++){
		uint8_t op = fz_u8(&f);
		size_t k = (op >> 3) % NCLIENTS;
		struct model_client *m = &model[k];

		switch(op % 7){
			case 0: {
				struct autosub_filter fl[NFILT];
				size_t n = (size_t)(op >> 5) % (NFILT + 1), valid = 0;
				uintptr_t owner = next_owner++;

				for(size_t i = 0; i < n; i++){
					fl[i].qos = (int)(fz_u8(&f) % 4) - 1; /* -1..2: the index clamps */
					fl[i].filter = fz_str(&f);
				}
				FZ_CHECK(autosub_index_bind(idx, ids[k], fl, n, (void *)owner) == 0, "bind failed");
				drop_filters(m);
				for(size_t i = 0; i < n; i++){
					int q = fl[i].qos < 0 ? 0 : fl[i].qos;
					size_t j;
					if(!acl_filter_valid(fl[i].filter)) continue;
					valid++;
					for(j = 0; j < m->nf && strcmp(m->filter[j], fl[i].filter); j++);
					if(j < m->nf){
						if(q > m->qos[j]) m->qos[j] = q;
						continue;
					}
					m->filter[m->nf] = strdup(fl[i].filter);
					m->qos[m->nf++] = q;
				}
				if(valid == 0){
					model_remove(m);
				}else{
					m->present = true;
					m->owner = owner;
				}
				for(size_t i = 0; i < n; i++) free(fl[i].filter);
				break;
			}
			case 1:
				autosub_index_unbind(idx, ids[k]);
				model_remove(m);
				break;
			case 2: {
				bool right = op & 0x80;
				uintptr_t owner = right ? m->owner : m->owner + 1000;
				autosub_index_release(idx, ids[k], (void *)owner);
				if(m->present && right) model_remove(m);
				break;
			}
			case 3: {
				char *s = fz_str(&f);
				bool want = false, got;
				if(acl_share_strip(s) == s && m->present){
					size_t i;
					for(i = 0; i < m->nt && strcmp(m->tracked[i], s); i++);
					if(i < m->nt){
						want = true;
					}else{
						/* Tracked with or without an overlap while there is
						 * room; when full, only one that overlaps a bound
						 * filter is tracked, in the place of the first one
						 * that overlaps none (the index's order: swap with
						 * the last, append). */
						if(m->nt == AUTOSUB_TRACK_MAX && model_overlaps(m, s)){
							for(i = 0; i < m->nt && model_overlaps(m, m->tracked[i]); i++);
							if(i < m->nt){
								free(m->tracked[i]);
								m->tracked[i] = m->tracked[--m->nt];
							}
						}
						if(m->nt < AUTOSUB_TRACK_MAX){
							m->tracked[m->nt++] = strdup(s);
							want = true;
						}
					}
				}
				got = autosub_index_note_subscribe(idx, ids[k], s);
				FZ_CHECK(got == want, "note_subscribe(%s, \"%s\") = %d, model %d", ids[k], s, got, want);
				free(s);
				break;
			}
			case 4: {
				char *s = fz_str(&f);
				autosub_index_note_unsubscribe(idx, ids[k], s);
				for(size_t i = 0; i < m->nt; i++){
					if(strcmp(m->tracked[i], s)) continue;
					free(m->tracked[i]);
					m->tracked[i] = m->tracked[--m->nt];
					break;
				}
				free(s);
				break;
			}
			case 5:
				switch((op >> 5) % 4){
					case 2: {
						bool want = m->present && m->nt > 0;
						bool got = autosub_index_hold_subscriptions(idx, ids[k]);
						FZ_CHECK(got == want, "hold(%s) = %d, model %d", ids[k], got, want);
						if(want) m->held = true;
						break;
					}
					case 3: {
						bool kept = op & 0x80;
						autosub_index_confirm_subscriptions(idx, ids[k], kept);
						if(m->present && m->held){
							if(kept) m->held = false;
							else drop_tracked(m);
						}
						break;
					}
					default:
						autosub_index_clear_subscriptions(idx, ids[k]);
						if(m->present) drop_tracked(m);
				}
				break;
			case 6: {
				char *t = fz_str(&f);
				const struct autosub_match *res;
				size_t n, want = 0;

				if(!acl_topic_valid(t)){
					free(t);
					break;
				}
				n = autosub_index_match(idx, t, &res);
				for(size_t c = 0; c < NCLIENTS; c++){
					struct model_client *mc = &model[c];
					int best = -1;
					bool excluded = false;
					size_t r;

					if(!mc->present) continue;
					for(size_t i = 0; i < mc->nf; i++){
						if(acl_topic_matches(mc->filter[i], t) && mc->qos[i] > best) best = mc->qos[i];
					}
					for(size_t i = 0; !mc->held && i < mc->nt; i++) excluded |= acl_topic_matches(mc->tracked[i], t);
					for(r = 0; r < n && strcmp(res[r].client_id, ids[c]); r++);
					if(best < 0 || excluded){
						FZ_CHECK(r == n, "\"%s\" delivered to %s (best %d, excluded %d)", t, ids[c], best, excluded);
						continue;
					}
					want++;
					FZ_CHECK(r < n, "\"%s\" not delivered to %s", t, ids[c]);
					FZ_CHECK(res[r].qos == best, "\"%s\" to %s at QoS %d, want %d", t, ids[c], res[r].qos, best);
					FZ_CHECK((uintptr_t)res[r].owner == mc->owner, "owner of %s", ids[c]);
				}
				FZ_CHECK(n == want, "\"%s\": %zu deliveries, want %zu", t, n, want);
				free(t);
				break;
			}
		}
		FZ_CHECK(autosub_index_clients(idx) == (size_t)(model[0].present + model[1].present + model[2].present + model[3].present),
				"client count");
	}
	for(size_t k = 0; k < NCLIENTS; k++){
		autosub_index_unbind(idx, ids[k]);
		model_remove(&model[k]);
	}
	{
		/* The result buffer is kept for reuse; everything else must be gone. */
		struct autosub_index_stats st;
		autosub_index_stats(idx, &st);
		FZ_CHECK(st.filters == 0 && st.prefixes == 0 && st.depths == 0 && st.tracked == 0, "index not empty");
		FZ_CHECK(autosub_index_memory(idx) >= empty_bytes, "memory accounting went below empty");
	}
	autosub_index_free(idx);
	return 0;
}
