build-merge/obj/cluster/cluster_key.o: cluster/cluster_key.c \
 cluster/cluster_key.h
cluster/cluster_key.h:
