build-merge/obj/core/config.o: core/config.c core/config.h \
 core/acl_lists.h core/strlist.h
core/config.h:
core/acl_lists.h:
core/strlist.h:
