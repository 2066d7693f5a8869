# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# bench/lib/configs.sh - the broker configurations compared by bench/run.sh.
# Sourced. Each one is started fresh, on its own free port, for every
# scenario run (start_broker), and stopped right after it (stop_broker).
#
#   bare     mosquitto 2.0.11, allow_anonymous true, no plugin
#   bare2    the same again: its ratio to bare shows the noise floor (-c)
#   barethr  the bare broker with one idle thread preloaded
#            (bench/idle_thread.c): glibc's multi-threaded mode alone, the
#            floor of any plugin with a thread of its own.
#   dynsec   + Debian's mosquitto_dynamic_security.so, the same devices and
#            the equivalent per-device ACL (bench/lib/fleet.py dynsec)
#   plugin   + mosquitto_iothub.so: authentication and ACL only
#            (plugin_opt_autosub none; the devices get the subscribe grants
#            that auto-subscription would otherwise imply)
#   autosub  + auto-subscription (the plugin's defaults)
#   events   + event forwarding to a private RabbitMQ node
#
# Needs lib/common.sh, and (set by run.sh): WORK, MONGO_URI, MONGO_DB, AMQP_URI (events only),
# DYNSEC_JSON, PLUGIN_SO, DYNSEC_SO.

ALL_CONFIGS="bare bare2 barethr dynsec plugin autosub events"

# write_conf CONFIG DIR PORT : DIR/mosquitto.conf
write_conf() {
	local cfg=$1 dir=$2 port=$3
	{
		conf_base "$dir" "$port"
		case $cfg in
		bare | bare2 | barethr)
			echo "allow_anonymous true"
			;;
		dynsec)
			echo "allow_anonymous false"
			echo "plugin $DYNSEC_SO"
			echo "plugin_opt_config_file $dir/dynamic-security.json"
			;;
		plugin | autosub | events)
			echo "allow_anonymous false"
			echo "plugin $PLUGIN_SO"
			echo "plugin_opt_mongo_uri $MONGO_URI"
			echo "plugin_opt_mongo_db $MONGO_DB"
			echo "plugin_opt_stats_interval 0"
			if [ "$cfg" = plugin ]; then
				echo "plugin_opt_autosub none"
				echo "plugin_opt_acl_subscribe tags/%p/+/cmd/+/+/+/#"
				echo "plugin_opt_acl_subscribe cmd/%u/+/+/+/#"
				echo "plugin_opt_acl_subscribe rpc/%u/+/+/+/#"
				echo "plugin_opt_acl_subscribe m2m/%u/+/+"
			fi
			if [ "$cfg" = events ]; then
				echo "plugin_opt_amqp_uri $AMQP_URI"
				echo "plugin_opt_spool_dir $dir/spool"
			fi
			# e.g. a longer mongo_timeout under valgrind (95-instr.sh)
			if [ -n "${PLUGIN_EXTRA_CONF:-}" ]; then printf '%s\n' "$PLUGIN_EXTRA_CONF"; fi
			;;
		*)
			echo "bench: unknown configuration $cfg" >&2
			return 1
			;;
		esac
	} >"$dir/mosquitto.conf"
}

# launch_broker CONFIG : starts the broker of CONFIG in the background and
# records it in B_PORT[CONFIG], B_PID[CONFIG], B_DIR[CONFIG] (associative
# arrays of the caller). await_broker CONFIG then waits until it lets the
# service client in. Several configurations run side by side this way; only
# the one being measured gets traffic.
declare -A B_PORT B_PID B_DIR
launch_broker() {
	local cfg=$1 dir port pre=""
	dir=$WORK/broker-$cfg
	rm -rf "$dir"
	mkdir -p "$dir"
	[ "$cfg" = dynsec ] && cp "$DYNSEC_JSON" "$dir/dynamic-security.json"
	port=$(free_port) || { echo "bench: no free port" >&2; return 1; }
	write_conf "$cfg" "$dir" "$port" || return 1
	# 10,000 devices need 10,000 fds: raise the soft limit to the hard one.
	# BROKER_WRAPPER: e.g. valgrind (bench/scenarios/95-instr.sh).
	[ "$cfg" = barethr ] && pre="env LD_PRELOAD=$BENCH_ROOT/bench/build/idle_thread.so"
	# shellcheck disable=SC2086
	(cd "$dir" && ulimit -n "$(ulimit -Hn)" && exec $pre ${BROKER_WRAPPER:-} mosquitto -c "$dir/mosquitto.conf") \
		>"$dir/stdout.log" 2>&1 &
	B_PID[$cfg]=$!
	B_PORT[$cfg]=$port
	B_DIR[$cfg]=$dir
	echo "${B_PID[$cfg]}" >"$dir/pid"
}

# One real login proves the whole path (for the plugin: the registry).
await_broker() {
	local cfg=$1 pid=${B_PID[$1]} port=${B_PORT[$1]}
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		port_free "$port" || break
		sleep 0.1
	done
	for _ in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		if "$LG" --port "$port" --mode conn --clients 1 --user "$SVC_USER" --pass "$SVC_PASS" \
			--client-id-prefix probe --connect-timeout 5 --quiet >/dev/null 2>&1; then
			return 0
		fi
		sleep 1
	done
	echo "bench: the $cfg broker did not come up on port $port" >&2
	tail -20 "${B_DIR[$cfg]}/broker.log" "${B_DIR[$cfg]}/stdout.log" >&2 2>/dev/null
	stop_broker "$cfg"
	return 1
}

stop_broker() {
	local cfg=$1
	[ -n "${B_PID[$cfg]:-}" ] || return 0
	stop_pid "${B_PID[$cfg]}" 20
	rm -f "${B_DIR[$cfg]}/pid"
	unset "B_PID[$cfg]"
}
