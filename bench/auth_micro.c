/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * auth_micro: what a connect costs in BASIC_AUTH.
 *
 *   warm     auth_check() on a cached device whose password verified before
 *            (cache hit + one HMAC-SHA256 of the password digest)
 *   digest   the password digest alone
 *   pbkdf2   auth_secret_verify_hash() on a mosquitto_passwd "$7$101$" hash
 *            (what a cold connect pays for a hashed secret)
 *   clear    auth_secret_verify_clear() (a cold connect with a clear secret)
 *   cold     auth_check() with no cache (auth_cache_max 0): registry lookup
 *            (the in-process stub registry: a real one adds a MongoDB round
 *            trip on top), record decode, PBKDF2
 *   jwt      auth_check() with the IotHub server's token (HS256, claims
 *            username/exp/iat) as the password: the whole JWT path
 *
 * Prints ns per call from a timing loop; bench/auth_micro.sh also runs it
 * under callgrind and prints instructions per call. Built against the
 * plugin's objects and the unit tests' broker stubs:
 *
 *   make && bench/auth_micro.sh
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "auth/auth.h"
#include "auth/auth_internal.h"
#include "auth/jwt_sig.h"
#include "auth/pwdigest.h"
#include "auth/secret.h"
#include "core/config.h"
#include "test/stubs/stub_registry.h"

/* mosquitto_passwd -b file p1/d1 'Secr3t!' */
static const char *passwd_vector =
	"$7$101$IGH024uFuGc3+DeU$RhdD9Q0O7ntyP6qKlAAuE2k3T/6dZXoowzGp+OeHp2odjdSHhVJYUXnqGAYBmX/phZ8z3hn6+KG6pE39Nq0QAg==";

static struct auth *A, *A_cold;
static volatile int sink;
static char token[512];

__attribute__((noinline)) void bench_warm(void)
{
	struct ih_device *dev = NULL;

	sink += auth_check(A, "client", "127.0.0.1", "p1/d1", "Secr3t!", &dev);
	registry_device_unref(dev);
}

__attribute__((noinline)) void bench_cold(void)
{
	struct ih_device *dev = NULL;

	sink += auth_check(A_cold, "client", "127.0.0.1", "p1/d1", "Secr3t!", &dev);
	registry_device_unref(dev);
}

__attribute__((noinline)) void bench_jwt(void)
{
	struct ih_device *dev = NULL;

	sink += auth_check(A, "client", "127.0.0.1", "Xk3_9aB", token, &dev);
	registry_device_unref(dev);
}

/* What the IotHub server's POST /tokens hands out (docs/PROTOCOL.md §6). */
static void mint_server_token(void)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char payload[128];
	unsigned char mac[64];
	size_t n, maclen;
	long now = (long)time(NULL);

	snprintf(payload, sizeof(payload), "{\"username\":\"Xk3_9aB\",\"exp\":%ld,\"iat\":%ld}", now + 3600, now);
	n = auth_jwt_b64url_encode((const unsigned char *)header, strlen(header), token);
	token[n++] = '.';
	n += auth_jwt_b64url_encode((const unsigned char *)payload, strlen(payload), token + n);
	if(auth_jwt_hmac(AUTH_JWT_HS256, "bench-jwt-secret", 16, token, n, mac, &maclen)) abort();
	token[n++] = '.';
	auth_jwt_b64url_encode(mac, maclen, token + n);
}

__attribute__((noinline)) void bench_digest(void)
{
	uint8_t d[AUTH_PWDIGEST_LEN];

	sink += auth_pwdigest("p1/d1", "Secr3t!", d);
}

__attribute__((noinline)) void bench_pbkdf2(void)
{
	sink += (int)auth_secret_verify_hash(passwd_vector, "Secr3t!");
}

__attribute__((noinline)) void bench_clear(void)
{
	sink += (int)auth_secret_verify_clear("Secr3t!-and-some-more", "Secr3t!-and-some-more");
}

/* The cold connect (registry + PBKDF2) that fills the cache and the digest;
 * kept out of bench_warm so callgrind does not count it (and different from
 * it, or gcc's identical-code folding would merge the two). */
__attribute__((noinline)) static void cold_connect(void)
{
	struct ih_device *dev = NULL;

	sink += auth_check(A, "cold-client", "127.0.0.1", "p1/d1", "Secr3t!", &dev);
	registry_device_unref(dev);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void timed(const char *name, void (*fn)(void), int n)
{
	double t0 = now_ns();
	for(int i = 0; i < n; i++) fn();
	printf("%-8s %10.0f ns/call  (%d calls)\n", name, (now_ns() - t0) / n, n);
}

int main(int argc, char **argv)
{
	struct ih_config cfg, cfg_cold;
	struct mosquitto_opt jwt_opt[] = {{(char *)"jwt_secret", (char *)"bench-jwt-secret"}};
	struct mosquitto_opt cold_opt[] = {{(char *)"auth_cache_max", (char *)"0"}};
	static const char *const docs[] = {
		"{\"broker_username\": \"p1/d1\", \"password_hash\": \"$7$101$IGH024uFuGc3+DeU$RhdD9Q0O7ntyP6qKlAAuE2k3T/"
		"6dZXoowzGp+OeHp2odjdSHhVJYUXnqGAYBmX/phZ8z3hn6+KG6pE39Nq0QAg==\", \"status\": \"active\","
		" \"tags\": [\"a\", \"b\"], \"acl\": {\"publish\": [\"x/%u\"]}}",
	};
	struct stub_registry *reg;
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	const char *only = argc > 2 ? argv[2] : NULL;

	if(ih_config_parse(&cfg, jwt_opt, 1) || ih_config_parse(&cfg_cold, cold_opt, 1)){
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	reg = stub_registry_new(docs, 1);
	A = stub_registry_auth(reg, &cfg);   /* both abort on failure */
	A_cold = stub_registry_auth(reg, &cfg_cold);
	cold_connect();
	mint_server_token();

	if(only == NULL || !strcmp(only, "warm")) timed("warm", bench_warm, n);
	if(only == NULL || !strcmp(only, "digest")) timed("digest", bench_digest, n);
	if(only == NULL || !strcmp(only, "pbkdf2")) timed("pbkdf2", bench_pbkdf2, n / 10 ? n / 10 : 1);
	if(only == NULL || !strcmp(only, "clear")) timed("clear", bench_clear, n);
	if(only == NULL || !strcmp(only, "cold")) timed("cold", bench_cold, n / 10 ? n / 10 : 1);
	if(only == NULL || !strcmp(only, "jwt")) timed("jwt", bench_jwt, n);

	auth_cleanup(A_cold);
	auth_cleanup(A);
	stub_registry_free(reg);
	ih_config_cleanup(&cfg_cold);
	ih_config_cleanup(&cfg);
	return sink == 42 ? 2 : 0;
}
