build-merge/obj/plugin/emit.o: plugin/emit.c events/events.h core/clock.h \
 plugin/conn.h core/strmap.h core/keyhash.h plugin/iothub.h core/config.h \
 core/acl_lists.h core/strlist.h
events/events.h:
core/clock.h:
plugin/conn.h:
core/strmap.h:
core/keyhash.h:
plugin/iothub.h:
core/config.h:
core/acl_lists.h:
core/strlist.h:
