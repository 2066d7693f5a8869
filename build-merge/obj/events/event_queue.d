build-merge/obj/events/event_queue.o: events/event_queue.c \
 events/event_queue.h
events/event_queue.h:
