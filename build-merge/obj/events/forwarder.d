build-merge/obj/events/forwarder.o: events/forwarder.c \
 events/event_encode.h events/events.h events/event_queue.h \
 events/event_stats.h events/forwarder.h events/amqp_conn.h \
 events/amqp_watchdog.h events/forwarder_ring.h events/spool.h \
 events/spool_format.h core/clock.h core/config.h core/acl_lists.h \
 core/strlist.h core/logq.h
events/event_encode.h:
events/events.h:
events/event_queue.h:
events/event_stats.h:
events/forwarder.h:
events/amqp_conn.h:
events/amqp_watchdog.h:
events/forwarder_ring.h:
events/spool.h:
events/spool_format.h:
core/clock.h:
core/config.h:
core/acl_lists.h:
core/strlist.h:
core/logq.h:
