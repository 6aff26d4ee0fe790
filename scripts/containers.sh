#!/usr/bin/env bash
# regchain's four validators (Alice, Bob, Charlie, Dave) in Podman containers, on loopback.
#
#   scripts/containers.sh up             build what is missing, start the cluster, wait until it
#                                        finalizes, print the endpoints
#   scripts/containers.sh down           save each container's log to the data directory, then
#                                        stop and remove the containers `up` started
#   scripts/containers.sh status         each container's state and health, best and finalized block
#   scripts/containers.sh build          (re)build the regchain image from the host's binaries
#   scripts/containers.sh compose-up [--demo] [--patroni]
#                                        the same cluster from docker/compose.yml, with podman-compose;
#                                        --demo adds the native-registry demo's services (profile
#                                        `demo`: three replicas with sidecars, two controllers, a
#                                        client); --patroni the Patroni demo's two PostgreSQL members
#   scripts/containers.sh compose-down   stop it (demos' services included), remove its containers
#                                        and its volumes
#
# Images: docker.io/library/debian:bookworm-slim is made locally with debootstrap when missing
# (no image registry is reachable here). localhost/regchain:latest is built from the `host`
# target of docker/Dockerfile with stripped copies of $CARGO_TARGET_DIR/release/regchain-node and
# regchainctl, again whenever those binaries change; localhost/regchain-demo:latest (compose-up
# --demo) from the `demo` target on the same binaries.
#
# Every container uses the host's network. Validator i (1 to 4) listens on 127.0.0.1 only:
#   JSON-RPC 19943+i (19944…), P2P 20332+i (20333…), Prometheus 19614+i (19615…), etcd 12378+i (12379…)
# away from scripts/testnet.sh's ports (9944…, 30333…, 9615…), so both can run at once.
# `up` keeps the chain spec, keys and databases in $REGCHAIN_CONTAINERS_DIR (by default
# /tmp/regchain-containers), bind-mounted at /data; a new `up` wipes it. compose-up keeps them in
# the volume regchain_regchain-data instead.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

DIR="${REGCHAIN_CONTAINERS_DIR:-/tmp/regchain-containers}"
IMAGE="${REGCHAIN_IMAGE:-localhost/regchain:latest}"
DEMO_IMAGE=localhost/regchain-demo:latest
PATRONI_IMAGE=localhost/regchain-patroni:latest
BASE_IMAGE=docker.io/library/debian:bookworm-slim
MIRROR="${REGCHAIN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
REGCHAINCTL="$CARGO_TARGET_DIR/release/regchainctl"
COMPOSE_FILE="$REGCHAIN_ROOT/docker/compose.yml"
PODMAN_COMPOSE_VERSION=1.6.0 # the version compose.yml was verified with
NAMES=(alice bob charlie dave)
LABEL=io.regchain.cluster=containers
IMAGE_UID=10001 # the image's user `regchain`
# runc, not crun (crun fails with "cgroups in hybrid mode not supported" here), and explicit
# ulimits: Podman's default (1048576 open files) is above this host's hard limit, and the runtime
# then fails on setrlimit. 10000 open files is what Substrate recommends; both values must stay
# within `ulimit -Hn` and `ulimit -Hu` of the shell that runs Podman.
RUN_OPTS=(--runtime runc --network host --ulimit nofile=10000:10000 --ulimit nproc=4096:4096)

die() { echo "containers: $*" >&2; exit 1; }

# Runs a command (podman, podman-compose) without the errors Podman prints on every run and rm
# when there is no systemd to schedule health checks: this script runs the checks itself
# (podman healthcheck run). stderr goes through a file, not a pipe, because conmon inherits
# podman's descriptors and would hold a pipe open.
quietly() {
	local err rc=0
	err=$(mktemp /tmp/regchain-podman.XXXXXX)
	"$@" 2>"$err" || rc=$?
	grep -v 'unable to get systemd connection' "$err" >&2 || true
	rm -f "$err"
	return "$rc"
}

rpc_port() { echo $((19943 + $1)); }
p2p_port() { echo $((20332 + $1)); }
prometheus_port() { echo $((19614 + $1)); }
etcd_port() { echo $((12378 + $1)); }

rpc() { # rpc PORT METHOD [PARAMS]
	curl -sf -m 5 -H 'Content-Type: application/json' \
		-d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "http://127.0.0.1:$1"
}

json() { # json EXPR: evaluates EXPR on the JSON-RPC answer `r` read from stdin
	python3 -c "import json,sys; r=json.load(sys.stdin)['result']; print($1)"
}

finalized_number() { # finalized_number PORT
	local hash
	hash=$(rpc "$1" chain_getFinalizedHead | json r) || return 1
	rpc "$1" chain_getHeader "[\"$hash\"]" | json 'int(r["number"], 16)'
}

install_packages() { # install_packages PACKAGE...
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "containers: installing $*"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

need_podman() {
	local missing=()
	command -v podman >/dev/null 2>&1 || missing+=(podman)
	command -v runc >/dev/null 2>&1 || missing+=(runc)
	((${#missing[@]} == 0)) || install_packages "${missing[@]}"
}

# docker.io/library/debian:bookworm-slim, made with debootstrap when it is not in local storage.
base_image() {
	podman image exists "$BASE_IMAGE" && return 0
	command -v debootstrap >/dev/null 2>&1 || install_packages debootstrap
	local rootfs
	rootfs=$(mktemp -d /tmp/regchain-rootfs.XXXXXX)
	echo "containers: building $BASE_IMAGE with debootstrap from $MIRROR (about 30 s)"
	if ! debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1; then
		rm -rf "$rootfs"
		die "debootstrap failed; see $rootfs.log"
	fi
	# Trim it the way the official slim image is trimmed: no package cache, apt lists,
	# documentation (but the copyright files) or translations.
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
		"$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
		"$rootfs"/var/log/*.log
	find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
	tar -C "$rootfs" -c . | podman import --quiet \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
	rm -rf "$rootfs" "$rootfs.log"
	echo "containers: $BASE_IMAGE $(podman image inspect --format '{{.Size}}' "$BASE_IMAGE" | numfmt --to=si)B"
}

# localhost/regchain:latest from the host's binaries; rebuilt only when they changed (the image
# carries a hash of them in the label io.regchain.binaries), or always with `build`.
build_image() { # build_image [force] [TARGET IMAGE]: the `host` target as $IMAGE by default
	local target=${2:-host} image=${3:-$IMAGE}
	if [ ! -x "$REGCHAIN_NODE" ] || [ ! -x "$REGCHAINCTL" ]; then
		echo "containers: building the release binaries"
		build_release
	fi
	command -v strip >/dev/null 2>&1 || install_packages binutils
	local stage id
	stage=$(mktemp -d /tmp/regchain-bin.XXXXXX)
	# Copies, so that a cargo build running meanwhile cannot change them under the build.
	cp "$REGCHAIN_NODE" "$REGCHAINCTL" "$stage/"
	strip "$stage/regchain-node" "$stage/regchainctl"
	# The binaries and what else goes into the images.
	id=$(cat "$stage/regchain-node" "$stage/regchainctl" "$REGCHAIN_ROOT"/docker/{Dockerfile,init.sh,demo-services.sh} | sha256sum | cut -c1-16)
	if [ "${1:-}" != force ] && podman image exists "$image" &&
		[ "$(podman image inspect --format '{{index .Labels "io.regchain.binaries"}}' "$image")" = "$id" ]; then
		rm -rf "$stage"
		return 0
	fi
	echo "containers: building $image from $REGCHAIN_NODE and $REGCHAINCTL"
	local start=$SECONDS
	if ! podman build --runtime runc --format docker --network host --target "$target" \
		--build-arg BINARIES=host --build-context "host-bin=$stage" --label "io.regchain.binaries=$id" \
		-f "$REGCHAIN_ROOT/docker/Dockerfile" -t "$image" "$REGCHAIN_ROOT" >"$stage.log" 2>&1; then
		rm -rf "$stage"
		die "podman build failed; see $stage.log"
	fi
	rm -rf "$stage" "$stage.log"
	echo "containers: $image built in $((SECONDS - start)) s," \
		"$(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=si)B"
}

ours() { podman ps -a --filter "label=$LABEL" --format '{{.Names}}'; }

# Fails unless no regchain container exists and the cluster's ports are free.
check_free() {
	local name i
	for name in init "${NAMES[@]}"; do
		! podman container exists "regchain-$name" ||
			die "container regchain-$name exists (scripts/containers.sh down, or compose-down)"
	done
	for i in 1 2 3 4; do
		! rpc "$(rpc_port "$i")" system_health >/dev/null 2>&1 ||
			die "something already serves JSON-RPC on 127.0.0.1:$(rpc_port "$i")"
	done
}

# Waits until every validator answers, passes its health check, has its three peers, and all
# four finalize (each finalized head at block 3 or more, and moving).
wait_finality() { # wait_finality START: START is $SECONDS when the containers were started
	local start=$1 i name fin peers
	for i in 1 2 3 4; do
		name=${NAMES[$((i - 1))]}
		until rpc "$(rpc_port "$i")" system_health >/dev/null 2>&1; do
			[ "$(podman inspect --format '{{.State.Running}}' "regchain-$name" 2>/dev/null)" = true ] ||
				die "regchain-$name is not running; see: podman logs regchain-$name"
			[ $((SECONDS - start)) -lt 120 ] || die "regchain-$name does not answer on $(rpc_port "$i")"
			sleep 0.5
		done
	done
	echo "containers: the four validators answer JSON-RPC ($((SECONDS - start)) s)"
	# Podman schedules health checks with systemd timers; without systemd, nothing runs them, so
	# run them here (this also records the result that `podman ps` shows).
	for name in "${NAMES[@]}"; do
		until podman healthcheck run "regchain-$name" >/dev/null 2>&1; do
			[ $((SECONDS - start)) -lt 120 ] || die "regchain-$name is not healthy"
			sleep 1
		done
	done
	echo "containers: the four validators are healthy ($((SECONDS - start)) s)"
	declare -A first=()
	while :; do
		local ok=1
		for i in 1 2 3 4; do
			fin=$(finalized_number "$(rpc_port "$i")" 2>/dev/null || echo 0)
			peers=$(rpc "$(rpc_port "$i")" system_health | json 'r["peers"]' 2>/dev/null || echo 0)
			[ -n "${first[$i]:-}" ] || first[$i]=$fin
			{ [ "$fin" -ge 3 ] && [ "$fin" -gt "${first[$i]}" ] && [ "$peers" -ge 3 ]; } || ok=0
		done
		[ "$ok" = 1 ] && break
		[ $((SECONDS - start)) -lt 180 ] || { status; die "the validators do not finalize after 180 s"; }
		sleep 0.5
	done
	echo "containers: the four validators finalize, each with its 3 peers ($((SECONDS - start)) s after the first container started)"
}

endpoints() {
	local i
	for i in 1 2 3 4; do
		echo "  ${NAMES[$((i - 1))]}  container regchain-${NAMES[$((i - 1))]}  RPC ws://127.0.0.1:$(rpc_port "$i")" \
			" etcd 127.0.0.1:$(etcd_port "$i")  P2P $(p2p_port "$i")  Prometheus http://127.0.0.1:$(prometheus_port "$i")/metrics"
	done
	echo "containers: try: ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:$(etcd_port 1) put /x y"
	echo "containers:      podman exec regchain-alice regchainctl get /x"
}

up() {
	need_podman
	command -v curl >/dev/null 2>&1 || install_packages curl
	[ -z "$(ours)" ] || down
	check_free
	base_image
	build_image
	local start=$SECONDS
	rm -rf "$DIR"
	mkdir -p "$DIR"
	chown "$IMAGE_UID:$IMAGE_UID" "$DIR"

	podman run --rm --name regchain-init --label "$LABEL" "${RUN_OPTS[@]}" -v "$DIR:/data" \
		--no-healthcheck --entrypoint regchain-init "$IMAGE" /data | sed 's/^/  /'

	# Each validator keeps the three others as reserved peers, over the libp2p backend, as in
	# scripts/testnet.sh (docs/guide.md, "Validator connectivity").
	local i j name peers=()
	for i in 1 2 3 4; do peers+=("$(cat "$DIR/validator$i.peer-id")"); done
	for i in 1 2 3 4; do
		name=${NAMES[$((i - 1))]}
		local reserved=()
		for j in 1 2 3 4; do
			[ "$j" = "$i" ] ||
				reserved+=(--reserved-nodes "/ip4/127.0.0.1/tcp/$(p2p_port "$j")/p2p/${peers[$((j - 1))]}")
		done
		quietly podman run -d --name "regchain-$name" --label "$LABEL" "${RUN_OPTS[@]}" \
			-v "$DIR:/data" -e "REGCHAIN_ENDPOINT=http://127.0.0.1:$(rpc_port "$i")" "$IMAGE" \
			--validator --chain /data/chain-spec.json --name "${name^}" \
			--base-path "/data/validator$i" --node-key-file "/data/validator$i.node-key" \
			--listen-addr "/ip4/127.0.0.1/tcp/$(p2p_port "$i")" \
			--rpc-port "$(rpc_port "$i")" --rpc-cors "$REGCHAIN_RPC_CORS" \
			--prometheus-port "$(prometheus_port "$i")" \
			--no-mdns --no-telemetry --network-backend libp2p "${reserved[@]}" \
			--etcd-listen "127.0.0.1:$(etcd_port "$i")" \
			--etcd-signer-file "/data/validator$i.etcd-signer" >/dev/null
	done
	wait_finality "$start"
	endpoints
	echo "containers: data under $DIR; scripts/containers.sh down stops the cluster"
}

down() {
	local name
	[ -n "$(ours)" ] || echo "containers: no container of scripts/containers.sh up to remove"
	for name in $(ours); do
		[ -d "$DIR" ] && podman logs "$name" >"$DIR/$name.log" 2>&1 || true
		quietly podman rm -f -t 20 "$name" >/dev/null
		echo "containers: removed $name"
	done
	[ -d "$DIR" ] && echo "containers: logs and data kept under $DIR (rm -rf it to free the space)"
	! podman container exists regchain-alice ||
		echo "containers: regchain-alice is left: it belongs to the compose cluster (compose-down)"
	return 0
}

status() {
	local i name state health best fin peers port
	for i in 1 2 3 4; do
		name=regchain-${NAMES[$((i - 1))]}
		port=$(rpc_port "$i")
		if ! podman container exists "$name"; then
			echo "$name  absent"
			continue
		fi
		state=$(podman inspect --format '{{.State.Status}}' "$name")
		health=-
		if [ "$state" = running ]; then
			if podman healthcheck run "$name" >/dev/null 2>&1; then health=healthy; else health=unhealthy; fi
		fi
		# Finalized first: read the other way round, a block finalized between the two calls
		# would show finalized above best.
		fin=$(finalized_number "$port" 2>/dev/null || echo '?')
		best=$(rpc "$port" chain_getHeader | json 'int(r["number"], 16)' 2>/dev/null || echo down)
		peers=$(rpc "$port" system_health | json 'r["peers"]' 2>/dev/null || echo '?')
		echo "$name  $state  $health  ws://127.0.0.1:$port  etcd 127.0.0.1:$(etcd_port "$i")" \
			" best $best  finalized $fin  peers $peers"
	done
}

podman_compose() {
	if ! command -v podman-compose >/dev/null 2>&1; then
		echo "containers: installing podman-compose $PODMAN_COMPOSE_VERSION from PyPI"
		python3 -m pip install --quiet "podman-compose==$PODMAN_COMPOSE_VERSION" ||
			die "could not install podman-compose (pip install podman-compose)"
		hash -r
	fi
	podman-compose -f "$COMPOSE_FILE" "$@"
}

compose_up() { # compose_up [--demo] [--patroni]
	local profiles=() demo=0 patroni=0
	while [ $# -gt 0 ]; do
		case "$1" in
			--demo) demo=1; profiles+=(--profile demo) ;;
			--patroni) patroni=1; profiles+=(--profile patroni) ;;
			*) die "usage: containers.sh compose-up [--demo] [--patroni]" ;;
		esac
		shift
	done
	need_podman
	check_free
	base_image
	build_image
	[ "$demo" = 0 ] || build_image "" demo "$DEMO_IMAGE"
	[ "$patroni" = 0 ] || patroni_image
	local start=$SECONDS
	# The images exist, so podman-compose starts them without building (the compose file's build
	# sections are the Docker path, which compiles in the image).
	quietly podman_compose "${profiles[@]}" up -d >/dev/null
	wait_finality "$start"
	endpoints
	[ "$demo" = 0 ] ||
		echo "containers: demo services: regchain-web-1..3 (127.0.0.1:18201-18203), regchain-controller-1..2, regchain-client; podman logs -f regchain-client"
	[ "$patroni" = 0 ] ||
		echo "containers: Patroni members: regchain-pg-1 (PostgreSQL 127.0.0.1:15432, REST :18008), regchain-pg-2 (:15433, :18009)"
	echo "containers: scripts/containers.sh compose-down stops the cluster and removes its volumes"
}

# The Patroni members' image: Debian's postgresql-15 and patroni, rebuilt when its inputs change.
patroni_image() {
	local id
	id=$(cat "$REGCHAIN_ROOT"/docker/{Dockerfile,patroni-member.sh} "$REGCHAIN_ROOT/scripts/patroni/patroni.yml.in" | sha256sum | cut -c1-16)
	if podman image exists "$PATRONI_IMAGE" &&
		[ "$(podman image inspect --format '{{index .Labels "io.regchain.inputs"}}' "$PATRONI_IMAGE")" = "$id" ]; then
		return 0
	fi
	echo "containers: building $PATRONI_IMAGE (postgresql-15 and patroni from Debian; about a minute)"
	local start=$SECONDS log
	log=$(mktemp /tmp/regchain-patroni-build.XXXXXX)
	podman build --runtime runc --format docker --network host --target patroni \
		--label "io.regchain.inputs=$id" -f "$REGCHAIN_ROOT/docker/Dockerfile" -t "$PATRONI_IMAGE" \
		"$REGCHAIN_ROOT" >"$log" 2>&1 || die "podman build failed; see $log"
	rm -f "$log"
	echo "containers: $PATRONI_IMAGE built in $((SECONDS - start)) s," \
		"$(podman image inspect --format '{{.Size}}' "$PATRONI_IMAGE" | numfmt --to=si)B"
}

compose_down() {
	# With every profile, so that the demos' containers go too.
	quietly podman_compose --profile demo --profile patroni down -v -t 30 >/dev/null
	echo "containers: removed the compose cluster's containers and its volumes"
}

case "${1:-}" in
	up) up ;;
	down) down ;;
	status) status ;;
	build) need_podman; base_image; build_image force ;;
	compose-up) shift; compose_up "$@" ;;
	compose-down) compose_down ;;
	*) die "usage: containers.sh up | down | status | build | compose-up | compose-down" ;;
esac
