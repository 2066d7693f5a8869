/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Auto-subscription templates: the config's `autosub FILTER QOS` entries
 * (same placeholders as the ACL, see acl/placeholder.h) and, when
 * autosub_tags is on, one `tags/<P>/<tag>/cmd/#` per device tag.
 *
 * The safety rule checked at startup (the device identity complete before
 * the first wildcard level, with accepted and refused examples), and what
 * is skipped per connection (unsafe values, bad tags), have one home:
 * README.md, section "Auto-subscription". autosub_template_check
 * implements the first, autosub_instantiate the second; each skipped
 * template is logged once per connection at NOTICE, each skipped tag with
 * its own log line.
 */
#ifndef IH_AUTOSUB_TEMPLATE_H
#define IH_AUTOSUB_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "acl/placeholder.h"
#include "core/config.h"

struct autosub_filter {
	char *filter;    /* instantiated, no placeholders */
	int qos;
};

/*
 * One connection's auto-subscriptions, in a single allocation. `names`
 * lists the same filters as `items` (names[i] == items[i].filter), in the
 * shape acl_rules_build wants for its read grants. Identical filters are
 * merged, keeping the highest QoS.
 */
struct autosub_list {
	size_t count;
	struct autosub_filter *items;
	const char **names;
	size_t bytes;    /* size of the allocation */
};

/* Check one template; MOSQ_ERR_SUCCESS or MOSQ_ERR_INVAL with a reason in err. */
int autosub_template_check(const char *tpl, char *err, size_t errlen);

/*
 * Check every cfg->autosub template, logging each bad one as
 *   iothub: option plugin_opt_autosub "cmd/#": <reason>
 * MOSQ_ERR_SUCCESS or MOSQ_ERR_INVAL (the broker must refuse to start).
 */
int autosub_templates_validate(const struct ih_config *cfg);

/* Whether some cfg->autosub template may put the client id (%c) into a
 * filter. Errs on the safe side: "%%c" counts too. */
bool autosub_templates_use_client_id(const struct ih_config *cfg);

/*
 * Instantiate cfg's templates (and tag subscriptions) for `who`; `tags` may
 * be NULL. On MOSQ_ERR_SUCCESS *out owns one allocation (possibly with
 * count 0 and items NULL); free it with autosub_list_free. MOSQ_ERR_NOMEM
 * leaves *out empty.
 */
int autosub_instantiate(struct autosub_list *out, const struct ih_config *cfg,
		const struct acl_subject *who, const struct ih_strlist *tags);
void autosub_list_free(struct autosub_list *list);   /* resets *list; NULL is fine */

#endif
