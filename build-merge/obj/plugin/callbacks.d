build-merge/obj/plugin/callbacks.o: plugin/callbacks.c cluster/cluster.h \
 plugin/callbacks.h plugin/iothub.h core/config.h core/acl_lists.h \
 core/strlist.h plugin/tick.h
cluster/cluster.h:
plugin/callbacks.h:
plugin/iothub.h:
core/config.h:
core/acl_lists.h:
core/strlist.h:
plugin/tick.h:
