build-merge/obj/auth/pwdigest.o: auth/pwdigest.c auth/pwdigest.h
auth/pwdigest.h:
