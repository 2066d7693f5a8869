/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * RabbitMQ connection set-up for the forwarder (see amqp_conn.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "events/amqp_conn.h"
#include "core/config.h"

#define FRAME_MAX 131072
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

int events_amqp_target_init(struct events_amqp_target *t, const struct ih_config *cfg, char *err, size_t errlen)
{
	int rc;
	size_t nlen;

	memset(t, 0, sizeof(*t));
	t->url = strdup(cfg->amqp_uri);
	t->exchange = strdup(cfg->amqp_exchange);
	t->queue[0] = strdup(cfg->amqp_queue_connected);
	t->queue[1] = strdup(cfg->amqp_queue_disconnected);
	t->queue[2] = strdup(cfg->amqp_queue_publish);
	t->cacert = dup_opt(cfg->amqp_cacert);
	t->cert = dup_opt(cfg->amqp_cert);
	t->key = dup_opt(cfg->amqp_key);
	nlen = strlen(cfg->node_name) + sizeof("mosquitto-iothub@");
	t->conn_name = malloc(nlen);
	if(!t->url || !t->exchange || !t->queue[0] || !t->queue[1] || !t->queue[2] || !t->conn_name
			|| (cfg->amqp_cacert && !t->cacert) || (cfg->amqp_cert && !t->cert) || (cfg->amqp_key && !t->key)){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(t->conn_name, nlen, "mosquitto-iothub@%s", cfg->node_name);
	for(char *save = NULL, *u = strtok_r(t->url, ",", &save); u; u = strtok_r(NULL, ",", &save)){
		struct amqp_connection_info *ci;

		while(*u == ' ' || *u == '\t') u++;
		if(*u == '\0') continue;
		if(t->n_uris == EVENTS_AMQP_MAX_URIS){
			snprintf(err, errlen, "option amqp_uri: more than %d URIs", EVENTS_AMQP_MAX_URIS);
			return -1;
		}
		ci = &t->cis[t->n_uris];
		amqp_default_connection_info(ci);
		rc = amqp_parse_url(u, ci);
		if(rc != AMQP_STATUS_OK){
			snprintf(err, errlen, "option amqp_uri: cannot parse \"%s\": %s (expected amqp://user:pass@host:port/vhost or amqps://..., comma-separated for several nodes)",
					u, amqp_error_string2(rc));
			return -1;
		}
		if(ci->host == NULL || ci->host[0] == '\0'){
			snprintf(err, errlen, "option amqp_uri: no host in \"%s\"", u);
			return -1;
		}
		if(ci->port <= 0 || ci->port > 65535){
			/* amqp_parse_url takes any number, 0 included. */
			snprintf(err, errlen, "option amqp_uri: port %d out of range (1-65535) in \"%s\"", ci->port, u);
			return -1;
		}
		if(ci->vhost == NULL || ci->vhost[0] == '\0'){
			/* "amqp://host/" names the empty vhost by the letter of the URI spec;
			 * every operator means the default one. */
			ci->vhost = "/";
		}
		if(t->n_uris > 0 && ci->ssl != t->cis[0].ssl){
			snprintf(err, errlen, "option amqp_uri: mixes amqp:// and amqps:// URIs");
			return -1;
		}
		t->n_uris++;
	}
	if(t->n_uris == 0){
		snprintf(err, errlen, "option amqp_uri: no URI in \"%s\"", cfg->amqp_uri);
		return -1;
	}
	t->ci = t->cis[0];
	if((t->cert == NULL) != (t->key == NULL)){
		snprintf(err, errlen, "options amqp_cert and amqp_key must be given together");
		return -1;
	}
	if(!t->ci.ssl && (t->cacert || t->cert)){
		snprintf(err, errlen, "options amqp_cacert/amqp_cert/amqp_key need an amqps:// amqp_uri");
		return -1;
	}
	t->verify = cfg->amqp_verify_peer;
	if(t->ci.ssl && t->cacert == NULL && t->verify){
		/* rabbitmq-c loads no CA paths of its own: default to the system bundle. */
		t->cacert = strdup(SYSTEM_CA_BUNDLE);
		if(t->cacert == NULL){
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	t->heartbeat_s = (int)cfg->amqp_heartbeat_s;
	t->timeout_ms = cfg->amqp_timeout_ms;
	t->declare = cfg->amqp_declare;
	t->quorum = cfg->amqp_queue_type == IH_QUEUE_QUORUM;
	return 0;
}

void events_amqp_target_cleanup(struct events_amqp_target *t)
{
	free(t->url);
	free(t->exchange);
	for(int i = 0; i < 3; i++) free(t->queue[i]);
	free(t->cacert);
	free(t->cert);
	free(t->key);
	free(t->conn_name);
	memset(t, 0, sizeof(*t));
}

void events_amqp_reply_string(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen)
{
	switch(r.reply_type){
		case AMQP_RESPONSE_NORMAL:
			snprintf(err, errlen, "%s: ok", what);
			break;
		case AMQP_RESPONSE_NONE:
			snprintf(err, errlen, "%s: no reply", what);
			break;
		case AMQP_RESPONSE_LIBRARY_EXCEPTION:
			snprintf(err, errlen, "%s: %s", what, amqp_error_string2(r.library_error));
			break;
		case AMQP_RESPONSE_SERVER_EXCEPTION:
			if(r.reply.id == AMQP_CONNECTION_CLOSE_METHOD){
				amqp_connection_close_t *m = r.reply.decoded;
				snprintf(err, errlen, "%s: connection closed by server: %u %.*s", what, m->reply_code,
						(int)m->reply_text.len, (const char *)m->reply_text.bytes);
			}else if(r.reply.id == AMQP_CHANNEL_CLOSE_METHOD){
				amqp_channel_close_t *m = r.reply.decoded;
				snprintf(err, errlen, "%s: channel closed by server: %u %.*s", what, m->reply_code,
						(int)m->reply_text.len, (const char *)m->reply_text.bytes);
			}else{
				snprintf(err, errlen, "%s: unexpected server method 0x%08x", what, r.reply.id);
			}
			break;
	}
}

static amqp_table_entry_t bool_entry(const char *key, bool v)
{
	amqp_table_entry_t e;

	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
	e.value.value.boolean = v;
	return e;
}

amqp_table_entry_t events_amqp_str_entry(const char *key, const char *v)
{
	amqp_table_entry_t e;

	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(v);
	return e;
}

static int open_socket(amqp_connection_state_t conn, const struct events_amqp_target *t,
		const struct amqp_connection_info *ci, char *err, size_t errlen)
{
	amqp_socket_t *sock;
	struct timeval tv = {(time_t)(t->timeout_ms / 1000), (suseconds_t)(t->timeout_ms % 1000) * 1000};
	int rc;

	if(ci->ssl){
		sock = amqp_ssl_socket_new(conn);
		if(sock == NULL){
			snprintf(err, errlen, "cannot create a TLS socket");
			return -1;
		}
		/* Peer and host name checks stay on unless amqp_verify_peer false. */
		amqp_ssl_socket_set_verify_peer(sock, t->verify);
		amqp_ssl_socket_set_verify_hostname(sock, t->verify);
		if(t->cacert && (rc = amqp_ssl_socket_set_cacert(sock, t->cacert)) != AMQP_STATUS_OK){
			snprintf(err, errlen, "amqp_cacert %s: %s", t->cacert, amqp_error_string2(rc));
			return -1;
		}
		if(t->cert && (rc = amqp_ssl_socket_set_key(sock, t->cert, t->key)) != AMQP_STATUS_OK){
			snprintf(err, errlen, "amqp_cert/amqp_key %s/%s: %s", t->cert, t->key, amqp_error_string2(rc));
			return -1;
		}
	}else{
		sock = amqp_tcp_socket_new(conn);
		if(sock == NULL){
			snprintf(err, errlen, "cannot create a socket");
			return -1;
		}
	}
	rc = amqp_socket_open_noblock(sock, ci->host, ci->port, &tv);
	if(rc != AMQP_STATUS_OK){
		snprintf(err, errlen, "connect to %s:%d: %s", ci->host, ci->port, amqp_error_string2(rc));
		return -1;
	}
	return 0;
}

static amqp_connection_state_t connect_one(const struct events_amqp_target *t, const struct amqp_connection_info *ci,
		amqp_channel_t channel, bool declare_events, const char *info, char *err, size_t errlen)
{
	amqp_connection_state_t conn;
	struct timeval tv = {(time_t)(t->timeout_ms / 1000), (suseconds_t)(t->timeout_ms % 1000) * 1000};
	amqp_table_entry_t caps[4], props[4];
	amqp_table_t client_props;
	amqp_rpc_reply_t r;

	conn = amqp_new_connection();
	if(conn == NULL){
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	amqp_set_handshake_timeout(conn, &tv);
	amqp_set_rpc_timeout(conn, &tv);
	if(open_socket(conn, t, ci, err, errlen)) goto fail;

	/* rabbitmq-c 0.11 only advertises capabilities it implements itself;
	 * blocked notifications we handle, so we say so. */
	caps[0] = bool_entry("connection.blocked", true);
	caps[1] = bool_entry("publisher_confirms", true);
	caps[2] = bool_entry("basic.nack", true);
	caps[3] = bool_entry("authentication_failure_close", true);
	props[0] = events_amqp_str_entry("product", "mosquitto-iothub");
	props[1] = events_amqp_str_entry("connection_name", t->conn_name);
	props[2] = events_amqp_str_entry("information", info);
	props[3].key = amqp_cstring_bytes("capabilities");
	props[3].value.kind = AMQP_FIELD_KIND_TABLE;
	props[3].value.value.table.num_entries = 4;
	props[3].value.value.table.entries = caps;
	client_props.num_entries = 4;
	client_props.entries = props;

	r = amqp_login_with_properties(conn, ci->vhost, 0, FRAME_MAX, t->heartbeat_s, &client_props,
			AMQP_SASL_METHOD_PLAIN, ci->user, ci->password);
	if(r.reply_type != AMQP_RESPONSE_NORMAL){
		events_amqp_reply_string(r, "login", err, errlen);
		goto fail;
	}
	amqp_channel_open(conn, channel);
	r = amqp_get_rpc_reply(conn);
	if(r.reply_type != AMQP_RESPONSE_NORMAL){
		events_amqp_reply_string(r, "channel.open", err, errlen);
		goto fail;
	}
	amqp_confirm_select(conn, channel);
	r = amqp_get_rpc_reply(conn);
	if(r.reply_type != AMQP_RESPONSE_NORMAL){
		events_amqp_reply_string(r, "confirm.select", err, errlen);
		goto fail;
	}
	if(declare_events && t->declare && events_amqp_declare(conn, t, err, errlen)) goto fail;
	return conn;
fail:
	events_amqp_disconnect(conn, false);
	return NULL;
}

amqp_connection_state_t events_amqp_connect_channel(struct events_amqp_target *t, amqp_channel_t channel,
		bool declare_events, const char *info, char *err, size_t errlen)
{
	char one[256];
	size_t used = 0;

	if(errlen) err[0] = '\0';
	for(size_t k = 0; k < t->n_uris; k++){
		size_t i = (t->cur + k) % t->n_uris;
		amqp_connection_state_t conn = connect_one(t, &t->cis[i], channel, declare_events, info, one, sizeof(one));

		if(conn){
			t->cur = i;
			t->ci = t->cis[i];
			return conn;
		}
		/* Every node's reason, so an operator sees the whole picture. */
		if(used < errlen){
			int w = snprintf(err + used, errlen - used, "%s%s", used ? "; " : "", one);
			if(w > 0) used += (size_t)w;
		}
	}
	/* Next time start with the node after the one that failed first. */
	t->cur = (t->cur + 1) % t->n_uris;
	return NULL;
}

amqp_connection_state_t events_amqp_connect(struct events_amqp_target *t, char *err, size_t errlen)
{
	return events_amqp_connect_channel(t, EVENTS_AMQP_CHANNEL, true, "mosquitto-iothub event forwarder", err, errlen);
}

int events_amqp_declare(amqp_connection_state_t conn, const struct events_amqp_target *t, char *err, size_t errlen)
{
	static const char *const keys[3] = {"client.connected", "client.disconnected", "message.publish"};
	amqp_table_entry_t qargs_e = events_amqp_str_entry("x-queue-type", "quorum");
	amqp_table_t qargs = {t->quorum ? 1 : 0, t->quorum ? &qargs_e : NULL};
	amqp_rpc_reply_t r;
	char what[300];

	amqp_exchange_declare(conn, EVENTS_AMQP_CHANNEL, amqp_cstring_bytes(t->exchange), amqp_cstring_bytes("direct"),
			0, 1, 0, 0, amqp_empty_table);
	r = amqp_get_rpc_reply(conn);
	if(r.reply_type != AMQP_RESPONSE_NORMAL){
		snprintf(what, sizeof(what), "declare exchange %s", t->exchange);
		events_amqp_reply_string(r, what, err, errlen);
		return -1;
	}
	for(int i = 0; i < 3; i++){
		/* Durable queues bound up front keep events published before any
		 * consumer exists; the anchor lost those as unroutable. */
		amqp_queue_declare(conn, EVENTS_AMQP_CHANNEL, amqp_cstring_bytes(t->queue[i]), 0, 1, 0, 0, qargs);
		r = amqp_get_rpc_reply(conn);
		if(r.reply_type != AMQP_RESPONSE_NORMAL){
			snprintf(what, sizeof(what), "declare queue %s", t->queue[i]);
			events_amqp_reply_string(r, what, err, errlen);
			return -1;
		}
		amqp_queue_bind(conn, EVENTS_AMQP_CHANNEL, amqp_cstring_bytes(t->queue[i]), amqp_cstring_bytes(t->exchange),
				amqp_cstring_bytes(keys[i]), amqp_empty_table);
		r = amqp_get_rpc_reply(conn);
		if(r.reply_type != AMQP_RESPONSE_NORMAL){
			snprintf(what, sizeof(what), "bind queue %s", t->queue[i]);
			events_amqp_reply_string(r, what, err, errlen);
			return -1;
		}
	}
	return 0;
}

void events_amqp_disconnect(amqp_connection_state_t conn, bool graceful)
{
	if(conn == NULL) return;
	if(graceful){
		amqp_channel_close(conn, EVENTS_AMQP_CHANNEL, AMQP_REPLY_SUCCESS);
		amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	}
	amqp_destroy_connection(conn);
}

int events_amqp_fd(amqp_connection_state_t conn)
{
	amqp_socket_t *s = conn ? amqp_get_socket(conn) : NULL;

	return s ? amqp_socket_get_sockfd(s) : -1;
}

int events_amqp_server_close(amqp_connection_state_t conn, const amqp_frame_t *fr, char *err, size_t errlen)
{
	if(fr->frame_type != AMQP_FRAME_METHOD) return 0;
	if(fr->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD){
		const amqp_channel_close_t *c = fr->payload.method.decoded;
		snprintf(err, errlen, "channel closed by server: %u %.*s", c->reply_code,
				(int)c->reply_text.len, (const char *)c->reply_text.bytes);
		return -1;
	}
	if(fr->payload.method.id == AMQP_CONNECTION_CLOSE_METHOD){
		const amqp_connection_close_t *c = fr->payload.method.decoded;
		amqp_connection_close_ok_t ok;
		snprintf(err, errlen, "connection closed by server: %u %.*s", c->reply_code,
				(int)c->reply_text.len, (const char *)c->reply_text.bytes);
		amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
		return -1;
	}
	return 0;
}
