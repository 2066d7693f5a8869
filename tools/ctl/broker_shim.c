/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The broker functions that core/config.o calls, backed by libc, so
 * iothubctl parses plugin_opt_* lines with the plugin's own option table
 * instead of a copy that could drift from it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

void *mosquitto_malloc(size_t size)
{
	return malloc(size);
}

void *mosquitto_calloc(size_t nmemb, size_t size)
{
	return calloc(nmemb, size);
}

void *mosquitto_realloc(void *ptr, size_t size)
{
	return realloc(ptr, size);
}

char *mosquitto_strdup(const char *s)
{
	return strdup(s);
}

void mosquitto_free(void *mem)
{
	free(mem);
}

/* The option parser logs each bad option; in the tool that is a message for
 * the operator about the --config file. */
void mosquitto_log_printf(int level, const char *fmt, ...)
{
	char buf[1024];
	const char *msg = buf;
	va_list ap;

	if(level != MOSQ_LOG_ERR && level != MOSQ_LOG_WARNING) return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if(!strncmp(msg, "iothub: ", 8)) msg += 8;
	fprintf(stderr, "iothubctl: config: %s\n", msg);
}
