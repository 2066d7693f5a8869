build-merge/obj/registry/username.o: registry/username.c \
 registry/username.h
registry/username.h:
