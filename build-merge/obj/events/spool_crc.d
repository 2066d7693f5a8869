build-merge/obj/events/spool_crc.o: events/spool_crc.c events/spool_crc.h \
 events/spool_format.h
events/spool_crc.h:
events/spool_format.h:
