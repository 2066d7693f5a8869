build-merge/obj/events/spool_open.o: events/spool_open.c \
 events/spool_crc.h events/spool_format.h events/spool_priv.h \
 events/spool.h core/logq.h
events/spool_crc.h:
events/spool_format.h:
events/spool_priv.h:
events/spool.h:
core/logq.h:
