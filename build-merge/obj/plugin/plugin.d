build-merge/obj/plugin/plugin.o: plugin/plugin.c plugin/iothub.h \
 core/config.h core/acl_lists.h core/strlist.h
plugin/iothub.h:
core/config.h:
core/acl_lists.h:
core/strlist.h:
