build-merge/obj/core/strmap.o: core/strmap.c core/strmap.h core/keyhash.h
core/strmap.h:
core/keyhash.h:
