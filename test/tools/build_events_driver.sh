#!/bin/sh
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Build the events test driver from source: every plugin module except the
# entry points, plus the broker stubs. Usage: build_events_driver.sh OUT [CFLAGS...]
set -e
cd "$(dirname "$0")/../.."
out=$1
shift
srcs=$(ls core/*.c registry/*.c auth/*.c acl/*.c autosub/*.c events/*.c api/*.c cluster/*.c plugin/*.c 2>/dev/null | grep -v '^plugin/plugin.c$')
PKGS="libmongoc-1.0 librabbitmq openssl libmicrohttpd"
${CC:-cc} -std=gnu11 -O2 -g -D_GNU_SOURCE -I. $(pkg-config --cflags $PKGS) "$@" -o "$out" \
    test/tools/events_driver.c $srcs test/stubs/broker_stubs.c \
    $(pkg-config --libs $PKGS) -lmosquitto -lpthread
