build-merge/obj/events/spool.o: events/spool.c events/spool_crc.h \
 events/spool_format.h events/spool_priv.h events/spool.h core/clock.h \
 core/logq.h
events/spool_crc.h:
events/spool_format.h:
events/spool_priv.h:
events/spool.h:
core/clock.h:
core/logq.h:
