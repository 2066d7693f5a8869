build-merge/obj/plugin/authorize.o: plugin/authorize.c acl/acl_cache.h \
 acl/rules.h acl/placeholder.h core/acl_lists.h core/strlist.h \
 core/config.h acl/topic.h autosub/autosub_index.h \
 autosub/autosub_template.h core/clock.h plugin/conn.h core/strmap.h \
 core/keyhash.h plugin/iothub.h plugin/kick.h
acl/acl_cache.h:
acl/rules.h:
acl/placeholder.h:
core/acl_lists.h:
core/strlist.h:
core/config.h:
acl/topic.h:
autosub/autosub_index.h:
autosub/autosub_template.h:
core/clock.h:
plugin/conn.h:
core/strmap.h:
core/keyhash.h:
plugin/iothub.h:
plugin/kick.h:
