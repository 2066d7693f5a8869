build-merge/obj/core/atomic_file.o: core/atomic_file.c core/atomic_file.h
core/atomic_file.h:
