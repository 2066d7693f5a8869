build-merge/obj/acl/topic.o: acl/topic.c acl/topic.h
acl/topic.h:
