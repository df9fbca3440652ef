#!/usr/bin/env bash
# Starts what the profiles (bindings/profiles) and examples/fastapi need
# beside PostgreSQL and Redis, when it is not there yet: RabbitMQ and
# MariaDB running on their default ports, nats-server installed (each
# jetstream stack runs its own), and FastAPI, uvicorn and httpx for
# /usr/bin/python3 from Debian's packages. Every step is skipped when
# already done, so CI and a fresh machine can call it each time.
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_up() { # port name
	for _ in $(seq 1 120); do up "$1" && return 0; sleep 0.5; done
	echo "profile-services: $2 did not start on 127.0.0.1:$1" >&2
	return 1
}

updated=
install() { # debian packages...
	[ -n "$updated" ] || { apt-get update -qq; updated=1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v rabbitmq-server >/dev/null || install rabbitmq-server
command -v mariadbd >/dev/null || install mariadb-server
command -v nats-server >/dev/null || install nats-server
/usr/bin/python3 -c 'import fastapi, uvicorn, httpx' 2>/dev/null || install python3-fastapi python3-uvicorn python3-httpx

if ! up 5672; then
	echo "profile-services: starting RabbitMQ"
	rabbitmq-server -detached
	wait_up 5672 RabbitMQ
fi
if ! up 3306; then
	echo "profile-services: starting MariaDB"
	start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
	wait_up 3306 MariaDB
fi
