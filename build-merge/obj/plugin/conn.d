build-merge/obj/plugin/conn.o: plugin/conn.c plugin/conn.h core/strmap.h \
 core/keyhash.h
plugin/conn.h:
core/strmap.h:
core/keyhash.h:
