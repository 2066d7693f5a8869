build-merge/obj/plugin/kick.o: plugin/kick.c plugin/conn.h core/strmap.h \
 core/keyhash.h plugin/iothub.h core/config.h core/acl_lists.h \
 core/strlist.h plugin/kick.h
plugin/conn.h:
core/strmap.h:
core/keyhash.h:
plugin/iothub.h:
core/config.h:
core/acl_lists.h:
core/strlist.h:
plugin/kick.h:
