build-merge/obj/events/forwarder_ring.o: events/forwarder_ring.c \
 events/forwarder_ring.h events/spool.h events/spool_format.h
events/forwarder_ring.h:
events/spool.h:
events/spool_format.h:
