build-merge/obj/auth/throttle.o: auth/throttle.c core/lru.h core/strmap.h \
 core/keyhash.h auth/throttle.h core/config.h core/acl_lists.h \
 core/strlist.h
core/lru.h:
core/strmap.h:
core/keyhash.h:
auth/throttle.h:
core/config.h:
core/acl_lists.h:
core/strlist.h:
