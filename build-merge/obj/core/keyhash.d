build-merge/obj/core/keyhash.o: core/keyhash.c core/keyhash.h
core/keyhash.h:
