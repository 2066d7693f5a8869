build-merge/obj/acl/placeholder.o: acl/placeholder.c acl/placeholder.h \
 acl/topic.h
acl/placeholder.h:
acl/topic.h:
