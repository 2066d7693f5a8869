build-merge/obj/cluster/cluster.o: cluster/cluster.c cluster/cluster.h \
 cluster/cluster_key.h cluster/cluster_link.h core/clock.h core/config.h \
 core/acl_lists.h core/strlist.h core/strmap.h core/keyhash.h
cluster/cluster.h:
cluster/cluster_key.h:
cluster/cluster_link.h:
core/clock.h:
core/config.h:
core/acl_lists.h:
core/strlist.h:
core/strmap.h:
core/keyhash.h:
