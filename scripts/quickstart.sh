#!/usr/bin/env bash
# Installs what is missing, builds, provisions a partner on first run, and starts the
# server on the embedded default (SQLite + local disk) with the demo page (--demo); once
# it is ready, prints the page's URL with a user token in the fragment. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh

data_dir="${AUDIODROP_DATA_DIR:-./data}"
listen="${AUDIODROP_LISTEN:-127.0.0.1:8080}"
export AUDIODROP_DATA_DIR="$data_dir" AUDIODROP_LISTEN="$listen"
mkdir -p "$data_dir"
credential="$data_dir/quickstart-partner.json"
if [ ! -s "$credential" ]; then
  build/bin/audiodrop-server partner create --name quickstart >"$credential"
  chmod 600 "$credential"
fi
client_id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["client_id"])' "$credential")
secret_key=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_key"])' "$credential")
api="http://$listen/developer/api"

cat <<EOT

Partner credential (kept in $credential):
  client_id  = $client_id
  secret_key = $secret_key

Try it, in another terminal:
  PARTNER=\$(curl -s -X POST -u '$client_id:$secret_key' $api/oauth/partner/access-token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  USER_TOKEN=\$(curl -s -X POST -H "Authorization: Bearer \$PARTNER" -H 'Content-Type: application/json' \\
      -d '{"user_id":"user-0001"}' $api/open/partner/users/access-token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -X POST -H "Authorization: Bearer \$USER_TOKEN" -H 'Content-Type: application/json' \\
      -d '{"filesize": 10485760, "filetype": "mp3"}' $api/open/partner/files/upload/generate-presigned-urls
  (README.md walks through the whole upload.)

Starting the server (Ctrl-C stops it)...
EOT
build/bin/audiodrop-server serve --demo &
server=$!
# SIGINT or SIGTERM to this script is passed on to the server as SIGTERM (a background
# job may not get Ctrl-C itself): the server drains and exits, and so does this script.
stopping=""
trap 'stopping=1; kill -TERM "$server" 2>/dev/null || true' INT TERM

# Ready when /readyz answers 200; 300 looks, 0.1 s apart (about 30 s).
for _ in $(seq 300); do
  if ! kill -0 "$server" 2>/dev/null || [ -n "$stopping" ]; then break; fi
  curl -fsS --max-time 2 -o /dev/null "http://$listen/readyz" 2>/dev/null && break
  sleep 0.1
done
json_field() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# The longest user token the server issues (--user-token-max-ttl, 30 days by default).
ttl="${AUDIODROP_USER_TOKEN_MAX_TTL:-2592000}"
if [ -n "$stopping" ] || ! kill -0 "$server" 2>/dev/null; then
  :  # stopped or failed while starting; its log says why
elif partner=$(curl -fsS --max-time 10 -X POST -u "$client_id:$secret_key" "$api/oauth/partner/access-token" | json_field access_token) &&
   user_token=$(curl -fsS --max-time 10 -X POST -H "Authorization: Bearer $partner" -H 'Content-Type: application/json' \
     -d "{\"user_id\":\"demo-user\",\"expires_in\":$ttl}" "$api/open/partner/users/access-token" | json_field access_token); then
  printf '\nDemo page: http://%s/demo/#token=%s\n  (user demo-user; the token is good for %s days)\n\n' \
    "$listen" "$user_token" "$((ttl / 86400))"
else
  echo "could not mint a user token for the demo page; open http://$listen/demo/ and paste one" >&2
fi

# Until the server exits; a trapped signal ends a wait early, so wait again.
status=0
while kill -0 "$server" 2>/dev/null; do
  status=0
  wait "$server" || status=$?
done
exit "$status"
