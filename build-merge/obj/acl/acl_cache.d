build-merge/obj/acl/acl_cache.o: acl/acl_cache.c acl/acl_cache.h \
 acl/rules.h acl/placeholder.h core/acl_lists.h core/strlist.h \
 core/config.h core/keyhash.h
acl/acl_cache.h:
acl/rules.h:
acl/placeholder.h:
core/acl_lists.h:
core/strlist.h:
core/config.h:
core/keyhash.h:
