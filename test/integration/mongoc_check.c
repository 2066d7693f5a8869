/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * mongoc_check: drive a MongoDB server (normally tools/mongo_standin.py)
 * through libmongoc the way the plugin and the CLI do, so that the stand-in
 * is proven against the real C driver, not only against pymongo.
 *
 *   mongoc_check all URI DB      functional checks; prints "ok <step>" lines,
 *                                exits 0 only if every step passed
 *   mongoc_check timed URI DB    one find on a fresh client; prints
 *                                "OK <ms>" or "ERR <ms> <message>", exit 0/1
 *   mongoc_check outage URI DB   line protocol with the test harness:
 *                                prints READY, waits for a line on stdin (the
 *                                test kills the server), times one query on a
 *                                single-threaded client and on a pool client
 *                                ("DOWN <kind> <ms> <error>"), waits for a
 *                                second line (server restarted), then retries
 *                                until each client recovers ("UP <kind> <ms>")
 *
 * Build: gcc -o mongoc_check mongoc_check.c $(pkg-config --cflags --libs
 *        libmongoc-1.0) -lpthread
 */
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, step, ...)                                   \
   do {                                                          \
      if (cond) {                                                \
         printf ("ok %s\n", step);                               \
      } else {                                                   \
         failures++;                                             \
         printf ("FAIL %s: ", step);                             \
         printf (__VA_ARGS__);                                   \
         printf ("\n");                                          \
      }                                                          \
      fflush (stdout);                                           \
   } while (0)

/* libmongoc's default handler prints DEBUG/INFO to stdout, which would
 * mix with our protocol lines: send warnings and worse to stderr, drop the
 * rest. */
static void
log_to_stderr (mongoc_log_level_t level, const char *domain, const char *message,
               void *data)
{
   (void) data;
   if (level <= MONGOC_LOG_LEVEL_WARNING) {
      fprintf (stderr, "%s: %s: %s\n", mongoc_log_level_str (level), domain, message);
   }
}

static int64_t
now_ms (void)
{
   return bson_get_monotonic_time () / 1000;
}

static int64_t
reply_int (const bson_t *reply, const char *key)
{
   bson_iter_t it;
   if (bson_iter_init_find (&it, reply, key) && BSON_ITER_HOLDS_NUMBER (&it)) {
      return bson_iter_as_int64 (&it);
   }
   return -1;
}

/* Count the documents a cursor yields; -1 on a cursor error. */
static int
drain (mongoc_cursor_t *cursor, bson_error_t *error)
{
   const bson_t *doc;
   int n = 0;
   while (mongoc_cursor_next (cursor, &doc)) {
      n++;
   }
   if (mongoc_cursor_error (cursor, error)) {
      n = -1;
   }
   mongoc_cursor_destroy (cursor);
   return n;
}

/* ---------------------------------------------------------------------- */
/* Pool used from two threads                                              */
/* ---------------------------------------------------------------------- */
struct worker {
   mongoc_client_pool_t *pool;
   const char *db;
   int id;
   int ok;
};

static void *
worker_main (void *arg)
{
   struct worker *w = arg;
   bson_error_t error;
   int i;

   w->ok = 1;
   for (i = 0; i < 25; i++) {
      /* Pop and push per operation, as a plugin worker would. */
      mongoc_client_t *client = mongoc_client_pool_pop (w->pool);
      mongoc_collection_t *coll =
         mongoc_client_get_collection (client, w->db, "pool_items");
      bson_t *doc = BCON_NEW ("worker", BCON_INT32 (w->id), "i", BCON_INT32 (i));
      bson_t *filter = BCON_NEW ("worker", BCON_INT32 (w->id));

      if (!mongoc_collection_insert_one (coll, doc, NULL, NULL, &error)) {
         fprintf (stderr, "worker %d insert: %s\n", w->id, error.message);
         w->ok = 0;
      } else if (drain (mongoc_collection_find_with_opts (coll, filter, NULL, NULL),
                        &error) != i + 1) {
         fprintf (stderr, "worker %d find: wrong count\n", w->id);
         w->ok = 0;
      }
      bson_destroy (doc);
      bson_destroy (filter);
      mongoc_collection_destroy (coll);
      mongoc_client_pool_push (w->pool, client);
      if (!w->ok) {
         break;
      }
   }
   return NULL;
}

static void
check_pool (const char *uri_str, const char *db)
{
   bson_error_t error;
   mongoc_uri_t *uri = mongoc_uri_new_with_error (uri_str, &error);
   mongoc_client_pool_t *pool;
   pthread_t threads[2];
   struct worker workers[2];
   int i, ok = 1;

   if (!uri) {
      CHECK (0, "pool_threads", "bad uri: %s", error.message);
      return;
   }
   pool = mongoc_client_pool_new (uri);
   mongoc_client_pool_set_error_api (pool, MONGOC_ERROR_API_VERSION_2);
   for (i = 0; i < 2; i++) {
      workers[i].pool = pool;
      workers[i].db = db;
      workers[i].id = i;
      pthread_create (&threads[i], NULL, worker_main, &workers[i]);
   }
   for (i = 0; i < 2; i++) {
      pthread_join (threads[i], NULL);
      ok = ok && workers[i].ok;
   }
   CHECK (ok, "pool_threads", "a worker failed (see stderr)");
   mongoc_client_pool_destroy (pool);
   mongoc_uri_destroy (uri);
}

/* ---------------------------------------------------------------------- */
/* Functional checks                                                       */
/* ---------------------------------------------------------------------- */
static int
run_all (const char *uri_str, const char *dbname)
{
   bson_error_t error;
   bson_t reply;
   mongoc_client_t *client = mongoc_client_new (uri_str);
   mongoc_database_t *db;
   mongoc_collection_t *devices, *acl;
   bool r;
   int n, i;

   if (!client) {
      printf ("FAIL client: bad uri %s\n", uri_str);
      return 1;
   }
   mongoc_client_set_error_api (client, MONGOC_ERROR_API_VERSION_2);
   mongoc_client_set_appname (client, "mongoc_check");
   db = mongoc_client_get_database (client, dbname);
   devices = mongoc_database_get_collection (db, "devices");
   acl = mongoc_database_get_collection (db, "device_acl");

   {
      bson_t *ping = BCON_NEW ("ping", BCON_INT32 (1));
      r = mongoc_client_command_simple (client, "admin", ping, NULL, &reply, &error);
      CHECK (r, "ping", "%s", error.message);
      bson_destroy (&reply);
      bson_destroy (ping);
   }

   /* Start from scratch; "ns not found" (26) is expected on a fresh db. */
   mongoc_collection_drop_with_opts (devices, NULL, NULL);
   mongoc_collection_drop_with_opts (acl, NULL, NULL);

   r = true;
   for (i = 1; i <= 5 && r; i++) {
      char user[32];
      bson_t *doc;
      bson_snprintf (user, sizeof user, "p1/d%d", i);
      doc = BCON_NEW ("product_name", "p1",
                      "broker_username", BCON_UTF8 (user),
                      "secret", "s3cret",
                      "status", BCON_UTF8 (i == 3 ? "suspended" : "active"),
                      "tags", "[", "floor1", "]");
      r = mongoc_collection_insert_one (devices, doc, NULL, &reply, &error) &&
          reply_int (&reply, "insertedCount") == 1;
      bson_destroy (&reply);
      bson_destroy (doc);
   }
   CHECK (r, "insert_one", "%s", error.message);
   {
      bson_t *doc = BCON_NEW ("broker_username", "p1/d1", "publish", "[", "a/#", "]");
      r = mongoc_collection_insert_one (acl, doc, NULL, NULL, &error);
      CHECK (r, "insert_one_acl", "%s", error.message);
      bson_destroy (doc);
   }

   {
      /* $ne filter + limit + sort + projection, as the plugin's lookups. */
      bson_t *filter = BCON_NEW ("status", "{", "$ne", "suspended", "}");
      bson_t *opts = BCON_NEW ("limit", BCON_INT64 (3),
                               "sort", "{", "broker_username", BCON_INT32 (-1), "}",
                               "projection", "{", "secret", BCON_INT32 (0), "}");
      mongoc_cursor_t *cur = mongoc_collection_find_with_opts (devices, filter, opts, NULL);
      const bson_t *doc;
      bson_iter_t it;
      char first[32] = "";
      int has_secret = 0;
      n = 0;
      while (mongoc_cursor_next (cur, &doc)) {
         if (n++ == 0 && bson_iter_init_find (&it, doc, "broker_username")) {
            bson_strncpy (first, bson_iter_utf8 (&it, NULL), sizeof first);
         }
         has_secret |= bson_has_field (doc, "secret");
      }
      r = !mongoc_cursor_error (cur, &error);
      CHECK (r && n == 3 && !strcmp (first, "p1/d5") && !has_secret,
             "find_with_opts", "n=%d first=%s secret=%d %s", n, first, has_secret,
             r ? "" : error.message);
      mongoc_cursor_destroy (cur);
      bson_destroy (filter);
      bson_destroy (opts);
   }

   {
      /* Small batches force getMore; destroying early sends killCursors. */
      bson_t *opts = BCON_NEW ("batchSize", BCON_INT32 (2));
      bson_t empty = BSON_INITIALIZER;
      mongoc_cursor_t *cur;
      const bson_t *doc;
      n = drain (mongoc_collection_find_with_opts (devices, &empty, opts, NULL), &error);
      CHECK (n == 5, "find_getmore", "n=%d %s", n, error.message);
      cur = mongoc_collection_find_with_opts (devices, &empty, opts, NULL);
      r = mongoc_cursor_next (cur, &doc);
      CHECK (r && mongoc_cursor_get_id (cur) != 0, "cursor_open", "id=%lld",
             (long long) mongoc_cursor_get_id (cur));
      mongoc_cursor_destroy (cur); /* killCursors */
      bson_destroy (opts);
   }

   {
      bson_t *pipeline = BCON_NEW (
         "pipeline", "[",
            "{", "$match", "{", "broker_username", "p1/d1", "}", "}",
            "{", "$limit", BCON_INT32 (1), "}",
            "{", "$lookup", "{", "from", "device_acl",
                                 "localField", "broker_username",
                                 "foreignField", "broker_username",
                                 "as", "acl", "}", "}",
         "]");
      mongoc_cursor_t *cur =
         mongoc_collection_aggregate (devices, MONGOC_QUERY_NONE, pipeline, NULL, NULL);
      const bson_t *doc;
      bson_iter_t it, sub;
      int acl_entries = -1;
      n = 0;
      while (mongoc_cursor_next (cur, &doc)) {
         n++;
         if (bson_iter_init_find (&it, doc, "acl") && BSON_ITER_HOLDS_ARRAY (&it) &&
             bson_iter_recurse (&it, &sub)) {
            acl_entries = 0;
            while (bson_iter_next (&sub)) {
               acl_entries++;
            }
         }
      }
      r = !mongoc_cursor_error (cur, &error);
      CHECK (r && n == 1 && acl_entries == 1, "aggregate_lookup", "n=%d acl=%d %s",
             n, acl_entries, r ? "" : error.message);
      mongoc_cursor_destroy (cur);
      bson_destroy (pipeline);
   }

   {
      bson_t *sel = BCON_NEW ("broker_username", "p2/new");
      bson_t *upd = BCON_NEW ("$set", "{", "status", "active", "}",
                              "$setOnInsert", "{", "product_name", "p2", "}");
      bson_t *opts = BCON_NEW ("upsert", BCON_BOOL (true));
      r = mongoc_collection_update_one (devices, sel, upd, opts, &reply, &error);
      CHECK (r && reply_int (&reply, "upsertedCount") == 1 &&
                bson_has_field (&reply, "upsertedId"),
             "update_one_upsert", "%s", r ? "no upsertedId" : error.message);
      bson_destroy (&reply);
      r = mongoc_collection_update_one (devices, sel, upd, opts, &reply, &error);
      CHECK (r && reply_int (&reply, "matchedCount") == 1 &&
                reply_int (&reply, "upsertedCount") == 0,
             "update_one_existing", "%s", r ? "counts" : error.message);
      bson_destroy (&reply);
      bson_destroy (sel);
      bson_destroy (upd);
      bson_destroy (opts);
   }

   {
      /* libmongoc 1.23 has no mongoc_collection_create_indexes_with_opts
       * (it arrived in 1.28); its documented way is the createIndexes
       * command through a write-command helper. */
      bson_t *cmd = BCON_NEW ("createIndexes", "devices",
                              "indexes", "[", "{",
                                 "key", "{", "broker_username", BCON_INT32 (1), "}",
                                 "name", "broker_username_1",
                                 "unique", BCON_BOOL (true),
                              "}", "]");
      r = mongoc_database_write_command_with_opts (db, cmd, NULL, &reply, &error);
      CHECK (r, "create_unique_index", "%s", error.message);
      bson_destroy (&reply);
      bson_destroy (cmd);
   }

   {
      bson_t *dup = BCON_NEW ("broker_username", "p1/d1");
      r = mongoc_collection_insert_one (devices, dup, NULL, &reply, &error);
      CHECK (!r && error.code == 11000, "duplicate_insert_11000", "r=%d code=%u %s",
             r, error.code, error.message);
      bson_destroy (&reply);
      bson_destroy (dup);
   }

   {
      /* Creating a unique index over duplicate values must fail too. */
      bson_t *cmd = BCON_NEW ("createIndexes", "devices",
                              "indexes", "[", "{",
                                 "key", "{", "product_name", BCON_INT32 (1), "}",
                                 "name", "product_name_1",
                                 "unique", BCON_BOOL (true),
                              "}", "]");
      r = mongoc_database_write_command_with_opts (db, cmd, NULL, &reply, &error);
      CHECK (!r && error.code == 11000, "unique_index_over_dups", "r=%d code=%u",
             r, error.code);
      bson_destroy (&reply);
      bson_destroy (cmd);
   }

   {
      mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts (devices, NULL);
      n = drain (cur, &error);
      CHECK (n == 2, "list_indexes", "n=%d", n);
   }

   {
      mongoc_find_and_modify_opts_t *fam = mongoc_find_and_modify_opts_new ();
      bson_t *query = BCON_NEW ("broker_username", "p1/d2");
      bson_t *upd = BCON_NEW ("$set", "{", "status", "suspended", "}",
                              "$push", "{", "tags", "floor2", "}");
      bson_iter_t it;
      mongoc_find_and_modify_opts_set_update (fam, upd);
      mongoc_find_and_modify_opts_set_flags (fam, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
      r = mongoc_collection_find_and_modify_with_opts (devices, query, fam, &reply, &error);
      CHECK (r && bson_iter_init_find (&it, &reply, "value") &&
                BSON_ITER_HOLDS_DOCUMENT (&it),
             "find_and_modify", "%s", r ? "no value" : error.message);
      bson_destroy (&reply);
      mongoc_find_and_modify_opts_destroy (fam);
      bson_destroy (query);
      bson_destroy (upd);
   }

   {
      bson_t *filter = BCON_NEW ("status", "suspended");
      int64_t c = mongoc_collection_count_documents (devices, filter, NULL, NULL, NULL, &error);
      int64_t e = mongoc_collection_estimated_document_count (devices, NULL, NULL, NULL, &error);
      CHECK (c == 2 && e == 6, "counts", "count=%lld estimated=%lld %s",
             (long long) c, (long long) e, error.message);
      r = mongoc_collection_delete_many (devices, filter, NULL, &reply, &error);
      CHECK (r && reply_int (&reply, "deletedCount") == 2, "delete_many", "%s",
             r ? "count" : error.message);
      bson_destroy (&reply);
      bson_destroy (filter);
   }

   {
      /* insert_many and bulk writes travel as OP_MSG document sequences. */
      bson_t *docs[3];
      mongoc_bulk_operation_t *bulk;
      bson_t *opts = BCON_NEW ("ordered", BCON_BOOL (false));
      for (i = 0; i < 3; i++) {
         docs[i] = BCON_NEW ("k", BCON_INT32 (i));
      }
      r = mongoc_collection_insert_many (acl, (const bson_t **) docs, 3, NULL, &reply, &error);
      CHECK (r && reply_int (&reply, "insertedCount") == 3, "insert_many", "%s",
             r ? "count" : error.message);
      bson_destroy (&reply);
      for (i = 0; i < 3; i++) {
         bson_destroy (docs[i]);
      }

      bulk = mongoc_collection_create_bulk_operation_with_opts (acl, opts);
      {
         bson_t *d = BCON_NEW ("k", BCON_INT32 (10));
         bson_t *s = BCON_NEW ("k", BCON_INT32 (0));
         bson_t *u = BCON_NEW ("$inc", "{", "k", BCON_INT32 (100), "}");
         bson_t *rm = BCON_NEW ("k", "{", "$in", "[", BCON_INT32 (1), BCON_INT32 (2), "]", "}");
         mongoc_bulk_operation_insert_with_opts (bulk, d, NULL, &error);
         mongoc_bulk_operation_update_one_with_opts (bulk, s, u, NULL, &error);
         mongoc_bulk_operation_remove_many_with_opts (bulk, rm, NULL, &error);
         r = mongoc_bulk_operation_execute (bulk, &reply, &error) != 0;
         CHECK (r && reply_int (&reply, "nInserted") == 1 &&
                   reply_int (&reply, "nModified") == 1 &&
                   reply_int (&reply, "nRemoved") == 2,
                "bulk_unordered", "%s", r ? "counts" : error.message);
         bson_destroy (&reply);
         bson_destroy (d);
         bson_destroy (s);
         bson_destroy (u);
         bson_destroy (rm);
      }
      mongoc_bulk_operation_destroy (bulk);
      bson_destroy (opts);
   }

   {
      /* w:0 goes out with the OP_MSG moreToCome flag and gets no reply. */
      mongoc_write_concern_t *wc = mongoc_write_concern_new ();
      bson_t opts = BSON_INITIALIZER;
      bson_t *doc = BCON_NEW ("unacked", BCON_BOOL (true));
      bson_t *filter = BCON_NEW ("unacked", BCON_BOOL (true));
      int64_t c;
      mongoc_write_concern_set_w (wc, 0);
      mongoc_write_concern_append (wc, &opts);
      r = mongoc_collection_insert_one (acl, doc, &opts, NULL, &error);
      c = mongoc_collection_count_documents (acl, filter, NULL, NULL, NULL, &error);
      CHECK (r && c == 1, "unacknowledged_write", "r=%d count=%lld", r, (long long) c);
      mongoc_write_concern_destroy (wc);
      bson_destroy (&opts);
      bson_destroy (doc);
      bson_destroy (filter);
   }

   {
      char **names = mongoc_database_get_collection_names_with_opts (db, NULL, &error);
      int found = 0;
      for (i = 0; names && names[i]; i++) {
         found += !strcmp (names[i], "devices") || !strcmp (names[i], "device_acl");
      }
      CHECK (found == 2, "list_collections", "found=%d %s", found,
             names ? "" : error.message);
      bson_strfreev (names);
   }

   check_pool (uri_str, dbname);

   mongoc_collection_destroy (devices);
   mongoc_collection_destroy (acl);
   mongoc_database_destroy (db);
   mongoc_client_destroy (client);
   printf ("%s\n", failures ? "FAILED" : "ALL OK");
   return failures ? 1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Outage and recovery                                                     */
/* ---------------------------------------------------------------------- */
static bool
probe (mongoc_client_t *client, const char *dbname, bson_error_t *error)
{
   mongoc_collection_t *coll = mongoc_client_get_collection (client, dbname, "devices");
   bson_t filter = BSON_INITIALIZER;
   bson_t *opts = BCON_NEW ("limit", BCON_INT64 (1));
   int n = drain (mongoc_collection_find_with_opts (coll, &filter, opts, NULL), error);
   bson_destroy (opts);
   mongoc_collection_destroy (coll);
   return n >= 0;
}

static void
wait_line (void)
{
   char line[64];
   if (!fgets (line, sizeof line, stdin)) {
      exit (3);
   }
}

static int
run_outage (const char *uri_str, const char *dbname)
{
   bson_error_t error;
   mongoc_uri_t *uri = mongoc_uri_new_with_error (uri_str, &error);
   mongoc_client_pool_t *pool;
   mongoc_client_t *single, *pooled;
   const char *kinds[2] = {"single", "pool"};
   mongoc_client_t *clients[2];
   int k;

   if (!uri) {
      printf ("FAIL uri %s\n", error.message);
      return 1;
   }
   single = mongoc_client_new_from_uri (uri);
   mongoc_client_set_error_api (single, MONGOC_ERROR_API_VERSION_2);
   pool = mongoc_client_pool_new (uri);
   mongoc_client_pool_set_error_api (pool, MONGOC_ERROR_API_VERSION_2);
   pooled = mongoc_client_pool_pop (pool);
   clients[0] = single;
   clients[1] = pooled;

   for (k = 0; k < 2; k++) {
      if (!probe (clients[k], dbname, &error)) {
         printf ("FAIL initial %s: %s\n", kinds[k], error.message);
         return 1;
      }
   }
   printf ("READY\n");
   fflush (stdout);

   wait_line (); /* the server is down now */
   for (k = 0; k < 2; k++) {
      int64_t t0 = now_ms ();
      bool ok = probe (clients[k], dbname, &error);
      printf ("DOWN %s %lld %s\n", kinds[k], (long long) (now_ms () - t0),
              ok ? "UNEXPECTED-SUCCESS" : error.message);
      fflush (stdout);
   }

   wait_line (); /* the server is back */
   for (k = 0; k < 2; k++) {
      int64_t t0 = now_ms ();
      bool ok = false;
      while (!ok && now_ms () - t0 < 30000) {
         ok = probe (clients[k], dbname, &error);
         if (!ok) {
            usleep (100 * 1000);
         }
      }
      printf ("%s %s %lld\n", ok ? "UP" : "STILL-DOWN", kinds[k],
              (long long) (now_ms () - t0));
      fflush (stdout);
   }

   mongoc_client_pool_push (pool, pooled);
   mongoc_client_pool_destroy (pool);
   mongoc_client_destroy (single);
   mongoc_uri_destroy (uri);
   return 0;
}

static int
run_timed (const char *uri_str, const char *dbname)
{
   bson_error_t error;
   mongoc_client_t *client = mongoc_client_new (uri_str);
   int64_t t0;
   bool ok;

   if (!client) {
      printf ("ERR 0 bad uri\n");
      return 1;
   }
   mongoc_client_set_error_api (client, MONGOC_ERROR_API_VERSION_2);
   t0 = now_ms ();
   ok = probe (client, dbname, &error);
   if (ok) {
      printf ("OK %lld\n", (long long) (now_ms () - t0));
   } else {
      printf ("ERR %lld %s\n", (long long) (now_ms () - t0), error.message);
   }
   mongoc_client_destroy (client);
   return ok ? 0 : 1;
}

int
main (int argc, char **argv)
{
   int rc;

   if (argc != 4) {
      fprintf (stderr, "usage: %s all|timed|outage URI DB\n", argv[0]);
      return 2;
   }
   mongoc_init ();
   mongoc_log_set_handler (log_to_stderr, NULL);
   if (!strcmp (argv[1], "all")) {
      rc = run_all (argv[2], argv[3]);
   } else if (!strcmp (argv[1], "timed")) {
      rc = run_timed (argv[2], argv[3]);
   } else if (!strcmp (argv[1], "outage")) {
      rc = run_outage (argv[2], argv[3]);
   } else {
      fprintf (stderr, "unknown mode %s\n", argv[1]);
      rc = 2;
   }
   mongoc_cleanup ();
   return rc;
}
