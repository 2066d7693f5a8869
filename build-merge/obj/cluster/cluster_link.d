build-merge/obj/cluster/cluster_link.o: cluster/cluster_link.c \
 cluster/cluster_key.h cluster/cluster_link.h core/clock.h core/config.h \
 core/acl_lists.h core/strlist.h core/logq.h core/strmap.h core/keyhash.h \
 events/amqp_conn.h
cluster/cluster_key.h:
cluster/cluster_link.h:
core/clock.h:
core/config.h:
core/acl_lists.h:
core/strlist.h:
core/logq.h:
core/strmap.h:
core/keyhash.h:
events/amqp_conn.h:
