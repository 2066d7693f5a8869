build-merge/obj/acl/rules.o: acl/rules.c acl/rules.h acl/placeholder.h \
 core/acl_lists.h core/strlist.h core/config.h acl/topic.h
acl/rules.h:
acl/placeholder.h:
core/acl_lists.h:
core/strlist.h:
core/config.h:
acl/topic.h:
