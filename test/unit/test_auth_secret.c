/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* Secret comparison and hashes (auth/secret.c). Vectors made with mosquitto_passwd. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "auth/secret.h"
#include "test/unit/unit_run.h"

/* mosquitto_passwd -b file p1/d1 'Secr3t!' (and -H sha512 for $6$) */
static const char *sha512_vector = "$6$eAQ2skr7IWukAQpc$tmPiboFbmN9q0x/reNhZQpzHOF7lsxKf0hiNKtMI3/Ao/Ytxvi2V3XxCO7C+ML3RcrBDQ78XygS+Nne9Y5UjeA==";
static const char *passwd_vector = "$7$101$IGH024uFuGc3+DeU$RhdD9Q0O7ntyP6qKlAAuE2k3T/6dZXoowzGp+OeHp2odjdSHhVJYUXnqGAYBmX/phZ8z3hn6+KG6pE39Nq0QAg==";

START_TEST(clear_secrets)
{
	ck_assert_int_eq(auth_secret_verify_clear("s3cret", "s3cret"), AUTH_SECRET_OK);
	ck_assert_int_eq(auth_secret_verify_clear("s3cret", "s3creT"), AUTH_SECRET_MISMATCH);
	ck_assert_int_eq(auth_secret_verify_clear("s3cret", "s3cret "), AUTH_SECRET_MISMATCH);
	ck_assert_int_eq(auth_secret_verify_clear("s3cret", ""), AUTH_SECRET_MISMATCH);
	ck_assert_int_eq(auth_secret_verify_clear("", ""), AUTH_SECRET_OK);
	ck_assert_int_eq(auth_secret_verify_clear(NULL, "x"), AUTH_SECRET_MISMATCH);
}
END_TEST

START_TEST(mosquitto_passwd_hash)
{
	ck_assert_int_eq(auth_secret_verify_hash(sha512_vector, "Secr3t!"), AUTH_SECRET_OK);
	ck_assert_int_eq(auth_secret_verify_hash(sha512_vector, "Secr3t?"), AUTH_SECRET_MISMATCH);
	ck_assert_int_eq(auth_secret_verify_hash(passwd_vector, "Secr3t!"), AUTH_SECRET_OK);
	ck_assert_int_eq(auth_secret_verify_hash(passwd_vector, "secr3t!"), AUTH_SECRET_MISMATCH);
	ck_assert_int_eq(auth_secret_verify_hash(passwd_vector, ""), AUTH_SECRET_MISMATCH);
}
END_TEST

START_TEST(malformed_hashes)
{
	static const char *bad[] = {
		"", "plain", "$7$", "$7$101$", "$7$abc$AAAA$AAAA", "$7$0$AAAAAAAAAAAAAAAA$AAAA",
		"$7$99999999$AAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$7$101$!!!!$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "$7$101$AAAAAAAAAAAAAAAA", "$2y$10$abc",
		"$6$$", "$6$AAAA$A=AA",
	};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		ck_assert_msg(auth_secret_verify_hash(bad[i], "x") == AUTH_SECRET_BAD_HASH, "accepted %s", bad[i]);
	}
}
END_TEST

START_TEST(create_and_verify)
{
	char hash[AUTH_SECRET_HASH_MAX];
	char secret[33];

	ck_assert_int_eq(auth_secret_generate(secret, 32), 0);
	ck_assert_uint_eq(strlen(secret), 32);
	ck_assert_int_eq(auth_secret_hash_create(secret, 101, hash, sizeof(hash)), 0);
	ck_assert(strncmp(hash, "$7$101$", 7) == 0);
	ck_assert_int_eq(auth_secret_verify_hash(hash, secret), AUTH_SECRET_OK);
	secret[0] ^= 1;
	ck_assert_int_eq(auth_secret_verify_hash(hash, secret), AUTH_SECRET_MISMATCH);
	ck_assert_int_eq(auth_secret_hash_create("x", 101, hash, 10), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth_secret");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, clear_secrets);
	tcase_add_test(tc, mosquitto_passwd_hash);
	tcase_add_test(tc, malformed_hashes);
	tcase_add_test(tc, create_and_verify);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
