#!/usr/bin/env bash
# regchain-demo: the services of the native-registry demo, as compose runs them (docker/compose.yml,
# profile `demo`). scripts/demo.sh runs the same roles as host processes and narrates a run.
#
#   regchain-demo web ID PORT      a replica of the service `web`: a tiny HTTP server answering its
#                                  id on 127.0.0.1:PORT, and its sidecar `regchainctl agent`
#                                  (registers under a lease, checks /health, deregisters on stop)
#   regchain-demo controller NAME  campaigns in the election `web-controller`; while it leads,
#                                  writes the replicas' state, fenced by its term, every PERIOD
#                                  seconds, and steps down when a fenced write is refused
#   regchain-demo client           discovers the passing instances of `web` every second and
#                                  sends each a GET, round-robin
#
# Environment: REGCHAIN_ENDPOINT (the validator) and REGCHAIN_KEY (the signing account) as for
# regchainctl; DEMO_TTL (leases, default 10 s), DEMO_PERIOD (controller, default 2 s),
# DEMO_DESIRED (replicas the controller expects, default 3).
#
# In compose the container runtime restarts a replica that crashed (restart: unless-stopped);
# in scripts/demo.sh the leading controller starts the replicas itself.
set -euo pipefail

SERVICE=web
ELECTION=web-controller
TTL=${DEMO_TTL:-10}
PERIOD=${DEMO_PERIOD:-2}
DESIRED=${DEMO_DESIRED:-3}

say() { echo "$(date -u +%H:%M:%S) $*"; }

# Compose starts every service at once: wait until this service's validator answers.
wait_node() {
	local said=""
	until regchainctl status >/dev/null 2>&1; do
		[ -n "$said" ] || { say "$1: waiting for the validator at ${REGCHAIN_ENDPOINT:-?}"; said=1; }
		sleep 1
	done
}

# The instances of $SERVICE, passing ones if $1 is "passing": "id address health" per line.
instances() {
	regchainctl service list "$SERVICE" ${1:+--health "$1"} | awk -F'\t' 'NF >= 6 { print $2, $3, $4 }'
}

web() {
	local id=${1:?regchain-demo web ID PORT} port=${2:?regchain-demo web ID PORT} server agent
	wait_node "$id"
	# busybox httpd serves the answer to GET / (index.html) and to GET /health.
	local www
	www=$(mktemp -d)
	echo "$id" >"$www/index.html"
	echo ok >"$www/health"
	busybox httpd -f -p "127.0.0.1:$port" -h "$www" &
	server=$!
	until curl -fs -m 1 -o /dev/null "http://127.0.0.1:$port/health"; do
		kill -0 "$server" 2>/dev/null || { say "$id: the HTTP server did not start on 127.0.0.1:$port"; exit 1; }
		sleep 0.2
	done
	# After a crash, the previous instance stays registered until its lease runs out.
	if instances | awk -v id="$id" '$1 == id' | grep -q .; then
		say "$id: its previous instance is still registered (a crash?): waiting for its lease to run out"
		while instances | awk -v id="$id" '$1 == id' | grep -q .; do sleep 1; done
	fi
	say "$id: serving on 127.0.0.1:$port; its sidecar registers it"
	regchainctl agent --service "$SERVICE" --instance "$id" --address "127.0.0.1:$port" --ttl "$TTL" \
		--health-cmd "curl -fs -m 1 -o /dev/null http://127.0.0.1:$port/health" --health-interval 2 &
	agent=$!
	# docker stop / podman stop: the sidecar deregisters, then the server stops.
	trap 'kill -TERM "$agent" 2>/dev/null; wait "$agent"; kill "$server" 2>/dev/null; exit 0' TERM INT
	wait -n "$server" "$agent" || true
	say "$id: $(kill -0 "$agent" 2>/dev/null && echo "the HTTP server" || echo "the sidecar") exited; stopping"
	kill -TERM "$agent" "$server" 2>/dev/null || true
	wait || true
	exit 1
}

controller() {
	local name=${1:?regchain-demo controller NAME} out campaign term list passing err
	out=$(mktemp)
	wait_node "$name"
	trap '[ -z "${campaign:-}" ] || { kill -TERM "$campaign" 2>/dev/null; wait "$campaign"; }; rm -f "$out"; exit 0' TERM INT
	while :; do
		: >"$out"
		regchainctl --output json elect campaign "$ELECTION" "$name" --ttl "$TTL" >"$out" &
		campaign=$!
		say "$name: campaigns in $ELECTION"
		until grep -q '"term"' "$out"; do
			kill -0 "$campaign" 2>/dev/null || { say "$name: the campaign ended; again in 1 s"; sleep 1; continue 2; }
			sleep 0.2
		done
		term=$(grep -o '"term":[0-9]*' "$out" | head -1 | cut -d: -f2)
		say "$name: LEADS $ELECTION in term $term"
		while :; do
			list=$(instances passing) || { say "$name: cannot read the registry"; sleep "$PERIOD"; continue; }
			passing=$(grep -c . <<<"$list" || true)
			# No fence, no action: a deposed leader's write is refused by the chain.
			if ! err=$(regchainctl put --fence "$ELECTION:$term" /demo/web/controller \
				"$name term $term: $passing of $DESIRED passing" 2>&1 >/dev/null); then
				if [[ "$err" == *"fenced write refused"* ]]; then
					say "$name: FENCED OUT in term $term ($err); steps down"
					break
				fi
				say "$name: write failed, nothing done this round: $err"
			elif [ "$passing" -lt "$DESIRED" ]; then
				say "$name: term $term: $passing of $DESIRED replicas passing; the container runtime restarts crashed ones"
			fi
			sleep "$PERIOD"
		done
		kill -TERM "$campaign" 2>/dev/null || true
		wait "$campaign" 2>/dev/null || true
		campaign=""
	done
}

client() {
	local n=0 list count id addr answer
	wait_node client
	while :; do
		if list=$(instances passing) && [ -n "$list" ]; then
			count=$(grep -c . <<<"$list")
			n=$((n + 1))
			read -r id addr _ < <(sed -n "$(((n % count) + 1))p" <<<"$list")
			if answer=$(curl -fs -m 1 "http://$addr/"); then
				say "client: GET http://$addr/ answered by $answer ($count passing)"
			else
				say "client: GET http://$addr/ ($id) failed ($count passing)"
			fi
		else
			say "client: no passing instance of $SERVICE"
		fi
		sleep 1
	done
}

case "${1:-}" in
	web) shift; web "$@" ;;
	controller) shift; controller "$@" ;;
	client) shift; client ;;
	*) echo "usage: regchain-demo web ID PORT | controller NAME | client" >&2; exit 2 ;;
esac
