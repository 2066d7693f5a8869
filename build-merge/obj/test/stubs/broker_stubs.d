build-merge/obj/test/stubs/broker_stubs.o: test/stubs/broker_stubs.c \
 test/stubs/broker_stubs.h
test/stubs/broker_stubs.h:
