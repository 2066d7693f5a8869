build-merge/obj/events/amqp_conn.o: events/amqp_conn.c events/amqp_conn.h \
 core/config.h core/acl_lists.h core/strlist.h
events/amqp_conn.h:
core/config.h:
core/acl_lists.h:
core/strlist.h:
