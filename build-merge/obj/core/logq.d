build-merge/obj/core/logq.o: core/logq.c core/logq.h
core/logq.h:
