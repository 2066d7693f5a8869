build-merge/obj/autosub/autosub_template.o: autosub/autosub_template.c \
 acl/topic.h autosub/autosub_template.h acl/placeholder.h core/config.h \
 core/acl_lists.h core/strlist.h
acl/topic.h:
autosub/autosub_template.h:
acl/placeholder.h:
core/config.h:
core/acl_lists.h:
core/strlist.h:
