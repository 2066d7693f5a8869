build-merge/obj/autosub/autosub_index.o: autosub/autosub_index.c \
 core/strmap.h core/keyhash.h acl/topic.h autosub/autosub_index.h \
 autosub/autosub_template.h acl/placeholder.h core/config.h \
 core/acl_lists.h core/strlist.h
core/strmap.h:
core/keyhash.h:
acl/topic.h:
autosub/autosub_index.h:
autosub/autosub_template.h:
acl/placeholder.h:
core/config.h:
core/acl_lists.h:
core/strlist.h:
