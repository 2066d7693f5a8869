build-merge/obj/core/acl_lists.o: core/acl_lists.c core/acl_lists.h \
 core/strlist.h
core/acl_lists.h:
core/strlist.h:
