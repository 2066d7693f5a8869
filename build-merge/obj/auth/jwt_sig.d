build-merge/obj/auth/jwt_sig.o: auth/jwt_sig.c auth/jwt_sig.h
auth/jwt_sig.h:
