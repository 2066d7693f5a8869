build-merge/obj/tools/ctl/broker_shim.o: tools/ctl/broker_shim.c
