build-merge/obj/events/event_encode.o: events/event_encode.c \
 events/event_encode.h events/events.h
events/event_encode.h:
events/events.h:
