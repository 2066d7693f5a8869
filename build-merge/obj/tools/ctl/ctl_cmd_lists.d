build-merge/obj/tools/ctl/ctl_cmd_lists.o: tools/ctl/ctl_cmd_lists.c \
 tools/ctl/ctl.h /usr/include/libbson-1.0/bson/bson.h \
 /usr/include/libbson-1.0/bson/bson-compat.h \
 /usr/include/libbson-1.0/bson/bson-prelude.h \
 /usr/include/libbson-1.0/bson/bson-config.h \
 /usr/include/libbson-1.0/bson/bson-macros.h \
 /usr/include/libbson-1.0/bson/bson-atomic.h \
 /usr/include/libbson-1.0/bson/bson-cmp.h \
 /usr/include/libbson-1.0/bson/bson-context.h \
 /usr/include/libbson-1.0/bson/bson-types.h \
 /usr/include/libbson-1.0/bson/bson-endian.h \
 /usr/include/libbson-1.0/bson/bson-clock.h \
 /usr/include/libbson-1.0/bson/bson-decimal128.h \
 /usr/include/libbson-1.0/bson/bson-error.h \
 /usr/include/libbson-1.0/bson/bson-iter.h \
 /usr/include/libbson-1.0/bson/bson.h \
 /usr/include/libbson-1.0/bson/bson-json.h \
 /usr/include/libbson-1.0/bson/bson-keys.h \
 /usr/include/libbson-1.0/bson/bson-md5.h \
 /usr/include/libbson-1.0/bson/bson-memory.h \
 /usr/include/libbson-1.0/bson/bson-oid.h \
 /usr/include/libbson-1.0/bson/bson-reader.h \
 /usr/include/libbson-1.0/bson/bson-string.h \
 /usr/include/libbson-1.0/bson/bson-utf8.h \
 /usr/include/libbson-1.0/bson/bson-value.h \
 /usr/include/libbson-1.0/bson/bson-version.h \
 /usr/include/libbson-1.0/bson/bson-version-functions.h \
 /usr/include/libbson-1.0/bson/bson-writer.h \
 /usr/include/libbson-1.0/bson/bcon.h core/config.h core/acl_lists.h \
 core/strlist.h tools/ctl/ctl_output.h tools/ctl/ctl_registry.h
tools/ctl/ctl.h:
/usr/include/libbson-1.0/bson/bson.h:
/usr/include/libbson-1.0/bson/bson-compat.h:
/usr/include/libbson-1.0/bson/bson-prelude.h:
/usr/include/libbson-1.0/bson/bson-config.h:
/usr/include/libbson-1.0/bson/bson-macros.h:
/usr/include/libbson-1.0/bson/bson-atomic.h:
/usr/include/libbson-1.0/bson/bson-cmp.h:
/usr/include/libbson-1.0/bson/bson-context.h:
/usr/include/libbson-1.0/bson/bson-types.h:
/usr/include/libbson-1.0/bson/bson-endian.h:
/usr/include/libbson-1.0/bson/bson-clock.h:
/usr/include/libbson-1.0/bson/bson-decimal128.h:
/usr/include/libbson-1.0/bson/bson-error.h:
/usr/include/libbson-1.0/bson/bson-iter.h:
/usr/include/libbson-1.0/bson/bson.h:
/usr/include/libbson-1.0/bson/bson-json.h:
/usr/include/libbson-1.0/bson/bson-keys.h:
/usr/include/libbson-1.0/bson/bson-md5.h:
/usr/include/libbson-1.0/bson/bson-memory.h:
/usr/include/libbson-1.0/bson/bson-oid.h:
/usr/include/libbson-1.0/bson/bson-reader.h:
/usr/include/libbson-1.0/bson/bson-string.h:
/usr/include/libbson-1.0/bson/bson-utf8.h:
/usr/include/libbson-1.0/bson/bson-value.h:
/usr/include/libbson-1.0/bson/bson-version.h:
/usr/include/libbson-1.0/bson/bson-version-functions.h:
/usr/include/libbson-1.0/bson/bson-writer.h:
/usr/include/libbson-1.0/bson/bcon.h:
core/config.h:
core/acl_lists.h:
core/strlist.h:
tools/ctl/ctl_output.h:
tools/ctl/ctl_registry.h:
