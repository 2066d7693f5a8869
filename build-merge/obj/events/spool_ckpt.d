build-merge/obj/events/spool_ckpt.o: events/spool_ckpt.c \
 events/spool_crc.h events/spool_format.h events/spool_priv.h \
 events/spool.h
events/spool_crc.h:
events/spool_format.h:
events/spool_priv.h:
events/spool.h:
