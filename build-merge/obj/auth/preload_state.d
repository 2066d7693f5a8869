build-merge/obj/auth/preload_state.o: auth/preload_state.c \
 auth/preload_state.h core/atomic_file.h registry/username.h
auth/preload_state.h:
core/atomic_file.h:
registry/username.h:
