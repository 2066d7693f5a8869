build-merge/obj/plugin/autosub_deliver.o: plugin/autosub_deliver.c \
 acl/rules.h acl/placeholder.h core/acl_lists.h core/strlist.h \
 core/config.h autosub/autosub_index.h autosub/autosub_template.h \
 plugin/conn.h core/strmap.h core/keyhash.h plugin/iothub.h
acl/rules.h:
acl/placeholder.h:
core/acl_lists.h:
core/strlist.h:
core/config.h:
autosub/autosub_index.h:
autosub/autosub_template.h:
plugin/conn.h:
core/strmap.h:
core/keyhash.h:
plugin/iothub.h:
