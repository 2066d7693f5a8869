build-merge/obj/auth/secret.o: auth/secret.c auth/secret.h
auth/secret.h:
