build-merge/obj/events/amqp_watchdog.o: events/amqp_watchdog.c \
 events/amqp_watchdog.h core/clock.h
events/amqp_watchdog.h:
core/clock.h:
